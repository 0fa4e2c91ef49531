#include "config/normalize.hpp"

#include <locale.h>
#include <wctype.h>

namespace postern::kernel {
namespace {

// The C.UTF-8 character classes, independent of the process locale. Null
// when the C library lacks it; then only ASCII letters are lowercased.
locale_t utf8_ctype() {
  static const locale_t locale = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
  return locale;
}

char32_t lowercase(char32_t c) {
  if (c < 0x80) return (c >= U'A' && c <= U'Z') ? c + (U'a' - U'A') : c;
  const locale_t locale = utf8_ctype();
  if (locale == locale_t{}) return c;
  return static_cast<char32_t>(::towlower_l(static_cast<wint_t>(c), locale));
}

// Decodes one well-formed UTF-8 sequence (RFC 3629 section 4: no overlong
// forms, no surrogates, nothing above U+10FFFF). Returns its length, 0 when
// the bytes at `text` do not start one.
std::size_t decode(std::string_view text, char32_t& out) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    out = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, min = 0x80, out = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, min = 0x800, out = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, min = 0x10000, out = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    out = (out << 6) | (byte(i) & 0x3F);
  }
  if (out < min || out > 0x10FFFF || (out >= 0xD800 && out <= 0xDFFF)) return 0;
  return length;
}

void encode(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace

std::string normalize_key(Normalize mode, std::string_view key) {
  if (mode == Normalize::none) return std::string(key);
  std::string out;
  out.reserve(key.size());
  while (!key.empty()) {
    char32_t c = 0;
    const std::size_t length = decode(key, c);
    if (length == 0) {
      out += key.front();
      key.remove_prefix(1);
      continue;
    }
    const char32_t lower = lowercase(c);
    // A lowercase form outside the valid range (never expected from the C
    // library) keeps the original bytes.
    if (lower > 0x10FFFF || (lower >= 0xD800 && lower <= 0xDFFF)) {
      out.append(key.substr(0, length));
    } else {
      encode(lower, out);
    }
    key.remove_prefix(length);
  }
  return out;
}

}  // namespace postern::kernel
