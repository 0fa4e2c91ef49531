#include <postern/sdk/sasl.hpp>
#include <postern/sdk/text.hpp>

#include <openssl/crypto.h>

#include <cstdint>
#include <utility>

namespace postern::sdk::sasl {
namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Sextet value of a base64 digit, or -1. `url_safe` selects the RFC 4648
// section 5 alphabet ('-' and '_' instead of '+' and '/').
int base64_value(unsigned char c, bool url_safe) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (url_safe) {
    if (c == '-') return 62;
    if (c == '_') return 63;
  } else {
    if (c == '+') return 62;
    if (c == '/') return 63;
  }
  return -1;
}

// Appends the bytes carried by `count` (2..4) sextets packed in `group`.
void flush_group(std::uint32_t group, int count, std::string& out) {
  // Left-align the sextets in a 24-bit word; 2 sextets carry 1 byte, 3 carry 2.
  group <<= 6 * (4 - count);
  out.push_back(static_cast<char>((group >> 16) & 0xFF));
  if (count >= 3) out.push_back(static_cast<char>((group >> 8) & 0xFF));
  if (count == 4) out.push_back(static_cast<char>(group & 0xFF));
}

char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower(text[i]) != ascii_lower(prefix[i])) return false;
  }
  return true;
}

bool is_utf8(std::string_view text) noexcept { return invalid_utf8_offset(text) == std::string_view::npos; }

void append_utf8(std::uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// A strict RFC 8259 reader that extracts the string-valued members of a
// top-level object (a JWT claims set). Other values are validated and skipped
// without recursion; nesting deeper than max_depth is an error, so a hostile
// token costs at most linear time and a fixed amount of stack.
class ClaimReader {
 public:
  static constexpr std::size_t max_depth = 32;

  explicit ClaimReader(std::string_view text) : text_(text) {}

  // The string members in document order (a repeated name appears twice;
  // find() takes the last, as common JSON libraries do). nullopt when the
  // text is not exactly one JSON object.
  std::optional<std::vector<std::pair<std::string, std::string>>> read() {
    if (!is_utf8(text_)) return std::nullopt;  // RFC 8259 section 8.1
    std::vector<std::pair<std::string, std::string>> members;
    skip_space();
    if (!consume('{')) return std::nullopt;
    skip_space();
    if (!consume('}')) {
      while (true) {
        std::string name;
        skip_space();
        if (!read_string(&name)) return std::nullopt;
        skip_space();
        if (!consume(':')) return std::nullopt;
        skip_space();
        if (peek() == '"') {
          std::string value;
          if (!read_string(&value)) return std::nullopt;
          members.emplace_back(std::move(name), std::move(value));
        } else if (!skip_value(max_depth - 1)) {
          return std::nullopt;
        }
        skip_space();
        if (consume(',')) continue;
        if (consume('}')) break;
        return std::nullopt;
      }
    }
    skip_space();
    if (position_ != text_.size()) return std::nullopt;
    return members;
  }

 private:
  char peek() const noexcept { return position_ < text_.size() ? text_[position_] : '\0'; }

  bool consume(char c) noexcept {
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }

  void skip_space() noexcept {
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++position_;
    }
  }

  bool consume_literal(std::string_view word) noexcept {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }

  std::optional<std::uint32_t> read_hex4() noexcept {
    if (text_.size() - position_ < 4) return std::nullopt;
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[position_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return value;
  }

  // RFC 8259 section 7. `out` may be null when the string is only skipped.
  bool read_string(std::string* out) {
    if (!consume('"')) return false;
    while (position_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[position_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;  // control characters must be escaped
      if (c != '\\') {
        if (out != nullptr) out->push_back(static_cast<char>(c));
        continue;
      }
      if (position_ >= text_.size()) return false;
      const char escape = text_[position_++];
      char plain = 0;
      switch (escape) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
          auto unit = read_hex4();
          if (!unit) return false;
          std::uint32_t code_point = *unit;
          if (code_point >= 0xDC00 && code_point <= 0xDFFF) return false;  // lone low surrogate
          if (code_point >= 0xD800 && code_point <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low surrogate.
            if (!consume('\\') || !consume('u')) return false;
            auto low = read_hex4();
            if (!low || *low < 0xDC00 || *low > 0xDFFF) return false;
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (*low - 0xDC00);
          }
          if (out != nullptr) append_utf8(code_point, *out);
          continue;
        }
        default:
          return false;
      }
      if (out != nullptr) out->push_back(plain);
    }
    return false;
  }

  // RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool read_number() noexcept {
    auto digits = [this] {
      const std::size_t start = position_;
      while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
        ++position_;
      }
      return position_ - start;
    };
    consume('-');
    // A leading zero stands alone; "01" fails at the caller on the '1'.
    if (!consume('0') && digits() == 0) return false;
    if (consume('.') && digits() == 0) return false;
    if (peek() == 'e' || peek() == 'E') {
      ++position_;
      if (!consume('+')) consume('-');
      if (digits() == 0) return false;
    }
    return true;
  }

  bool read_scalar() {
    switch (peek()) {
      case '"': return read_string(nullptr);
      case 't': return consume_literal("true");
      case 'f': return consume_literal("false");
      case 'n': return consume_literal("null");
      default: return read_number();
    }
  }

  // Skips one value of any kind with an explicit stack of open containers.
  bool skip_value(std::size_t depth_budget) {
    std::vector<char> open;  // '{' or '['
    while (true) {
      // Expecting a value.
      skip_space();
      const char c = peek();
      if (c == '{' || c == '[') {
        if (open.size() >= depth_budget) return false;
        ++position_;
        open.push_back(c);
        skip_space();
        if (consume(c == '{' ? '}' : ']')) {
          open.pop_back();
        } else {
          if (c == '{' && !read_member_name()) return false;
          continue;
        }
      } else if (!read_scalar()) {
        return false;
      }
      // After a value: close containers or move to the next element.
      while (true) {
        if (open.empty()) return true;
        skip_space();
        const char top = open.back();
        if (consume(',')) {
          if (top == '{' && !read_member_name()) return false;
          break;
        }
        if (!consume(top == '{' ? '}' : ']')) return false;
        open.pop_back();
      }
    }
  }

  bool read_member_name() {
    skip_space();
    if (!read_string(nullptr)) return false;
    skip_space();
    return consume(':');
  }

  std::string_view text_;
  std::size_t position_ = 0;
};

// RFC 5801 section 4: in a saslname ',' travels as "=2C" and '=' as "=3D";
// any other '=' sequence makes the name invalid.
std::optional<std::string> decode_saslname(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out.push_back(text[i]);
      continue;
    }
    const std::string_view escape = text.substr(i + 1, 2);
    if (escape == "2C" || escape == "2c") {
      out.push_back(',');
    } else if (escape == "3D" || escape == "3d") {
      out.push_back('=');
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

// RFC 7628 section 3.1: the GS2 header (the first 0x01-separated field) is
// "gs2-cbind-flag ',' [ 'a=' saslname ] ','". The authzid is a routing hint
// only when it looks like an address.
std::string oauthbearer_authzid(std::string_view gs2_header) {
  for (std::size_t comma = gs2_header.find(','); comma != std::string_view::npos;
       comma = gs2_header.find(',', comma + 1)) {
    const std::string_view rest = gs2_header.substr(comma + 1);
    if (!starts_with_ci(rest, "a=")) continue;
    std::string_view value = rest.substr(2);
    value = value.substr(0, value.find(','));
    auto name = decode_saslname(value);
    if (name && name->find('@') != std::string::npos) return std::move(*name);
    return {};
  }
  return {};
}

}  // namespace

std::optional<Mechanism> parse_mechanism(std::string_view name) noexcept {
  for (const Mechanism m :
       {Mechanism::plain, Mechanism::login, Mechanism::oauthbearer, Mechanism::xoauth2}) {
    const std::string_view wire = mechanism_name(m);
    if (name.size() == wire.size() && starts_with_ci(name, wire)) return m;
  }
  return std::nullopt;
}

std::string_view mechanism_name(Mechanism mechanism) noexcept {
  switch (mechanism) {
    case Mechanism::plain: return "PLAIN";
    case Mechanism::login: return "LOGIN";
    case Mechanism::oauthbearer: return "OAUTHBEARER";
    case Mechanism::xoauth2: return "XOAUTH2";
  }
  return "PLAIN";
}

bool is_cleartext(Mechanism mechanism) noexcept {
  return mechanism == Mechanism::plain || mechanism == Mechanism::login;
}

std::vector<Mechanism> default_mechanisms() {
  return {Mechanism::plain, Mechanism::login, Mechanism::oauthbearer, Mechanism::xoauth2};
}

std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&bytes](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(base64_alphabet[(group >> 18) & 0x3F]);
    out.push_back(base64_alphabet[(group >> 12) & 0x3F]);
    out.push_back(base64_alphabet[(group >> 6) & 0x3F]);
    out.push_back(base64_alphabet[group & 0x3F]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = byte(i) << 16;
    if (rest == 2) group |= byte(i + 1) << 8;
    out.push_back(base64_alphabet[(group >> 18) & 0x3F]);
    out.push_back(base64_alphabet[(group >> 12) & 0x3F]);
    out.push_back(rest == 2 ? base64_alphabet[(group >> 6) & 0x3F] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> decode_base64_lenient(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t group = 0;
  int count = 0;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      // Padding closes the current group wherever it appears; a group of one
      // sextet carries no complete byte, and further '=' find an empty group.
      if (count >= 2) flush_group(group, count, out);
      group = 0;
      count = 0;
      continue;
    }
    const int value = base64_value(c, false);
    if (value < 0) {
      wipe(out);
      return std::nullopt;
    }
    group = (group << 6) | static_cast<std::uint32_t>(value);
    if (++count == 4) {
      flush_group(group, 4, out);
      group = 0;
      count = 0;
    }
  }
  // An unpadded incomplete final group is dropped, as the reference does.
  return out;
}

std::optional<std::string> decode_base64url(std::string_view text) {
  // RFC 4648 section 3.2 without padding: a remainder of one digit is impossible.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t group = 0;
  int count = 0;
  for (const char ch : text) {
    const int value = base64_value(static_cast<unsigned char>(ch), true);
    if (value < 0) return std::nullopt;
    group = (group << 6) | static_cast<std::uint32_t>(value);
    if (++count == 4) {
      flush_group(group, 4, out);
      group = 0;
      count = 0;
    }
  }
  if (count > 0) {
    // RFC 4648 section 3.5: the unused low bits of the last digit must be zero
    // (canonical encoding), so each byte string has exactly one spelling.
    const std::uint32_t unused_mask = count == 2 ? 0x0F : 0x03;
    if ((group & unused_mask) != 0) return std::nullopt;
    flush_group(group, count, out);
  }
  return out;
}

Credentials::~Credentials() {
  wipe(response);
  wipe(password);
}

std::optional<Credentials> parse_plain(std::string_view decoded) {
  // RFC 4616 section 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.
  // Parts after a third NUL are ignored (the reference does the same).
  const std::size_t first = decoded.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = decoded.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const std::string_view authcid = decoded.substr(first + 1, second - first - 1);
  std::string_view password = decoded.substr(second + 1);
  password = password.substr(0, password.find('\0'));
  if (authcid.empty() || password.empty() || !is_utf8(authcid) || !is_utf8(password)) {
    return std::nullopt;
  }
  Credentials credentials;
  credentials.mechanism = Mechanism::plain;
  credentials.response.assign(decoded);
  credentials.identifier.assign(authcid);
  credentials.username.assign(authcid);
  credentials.password.assign(password);
  return credentials;
}

std::optional<Credentials> from_login(std::string_view username, std::string_view password) {
  // A NUL inside either value would shift the PLAIN fields on replay.
  if (username.empty() || password.empty() || username.find('\0') != std::string_view::npos ||
      password.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string response;
  response.reserve(username.size() + password.size() + 2);
  response.push_back('\0');
  response.append(username);
  response.push_back('\0');
  response.append(password);
  auto credentials = parse_plain(response);
  wipe(response);
  return credentials;
}

std::optional<Credentials> parse_oauth(Mechanism mechanism, std::string_view decoded,
                                       std::string_view jwt_username_claim) {
  if (mechanism != Mechanism::oauthbearer && mechanism != Mechanism::xoauth2) return std::nullopt;
  // RFC 7628 section 3.1 (and Google's XOAUTH2): key=value fields separated
  // by 0x01; the first "auth=Bearer " field carries the token.
  std::string_view token;
  bool have_token = false;
  std::string_view user;
  bool first_field = true;
  std::string authzid;
  std::size_t start = 0;
  while (start <= decoded.size()) {
    std::size_t end = decoded.find('\x01', start);
    if (end == std::string_view::npos) end = decoded.size();
    const std::string_view field = decoded.substr(start, end - start);
    if (first_field && mechanism == Mechanism::oauthbearer) authzid = oauthbearer_authzid(field);
    first_field = false;
    if (!have_token && starts_with_ci(field, "auth=Bearer ")) {
      token = field.substr(12);
      have_token = true;
    } else if (mechanism == Mechanism::xoauth2 && user.empty() && starts_with_ci(field, "user=")) {
      user = field.substr(5);
    }
    start = end + 1;
  }
  if (!have_token || token.empty()) return std::nullopt;

  Credentials credentials;
  credentials.mechanism = mechanism;
  credentials.response.assign(decoded);
  if (!authzid.empty()) {
    credentials.identifier = std::move(authzid);
  } else if (!user.empty()) {
    // Postern routes XOAUTH2 by its user= field (the reference ignores it).
    credentials.identifier.assign(user);
  } else if (auto from_token = identifier_from_token(token, jwt_username_claim)) {
    credentials.identifier = std::move(*from_token);
  }
  return credentials;
}

std::optional<std::string> identifier_from_token(std::string_view token,
                                                 std::string_view jwt_username_claim) {
  constexpr std::string_view stalwart_prefix = "sw1.";
  if (token.substr(0, stalwart_prefix.size()) == stalwart_prefix) {
    // Stalwart access tokens: "sw1.<id>.<base64url account name>"; no JWT
    // fall-back when that part is missing or malformed.
    const std::string_view rest = token.substr(stalwart_prefix.size());
    const std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto name = decode_base64url(rest.substr(dot + 1));
    if (!name || name->empty() || !is_utf8(*name)) return std::nullopt;
    return name;
  }

  // RFC 7519 section 3: header.claims.signature; only the claims are read.
  const std::size_t first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return std::nullopt;
  std::string_view claims_segment = token.substr(first_dot + 1);
  claims_segment = claims_segment.substr(0, claims_segment.find('.'));
  const auto claims_json = decode_base64url(claims_segment);
  if (!claims_json) return std::nullopt;
  const auto members = ClaimReader(*claims_json).read();
  if (!members) return std::nullopt;

  auto claim_value = [&members](std::string_view name) -> const std::string* {
    const std::string* found = nullptr;
    for (const auto& [key, value] : *members) {
      if (key == name) found = &value;  // the last occurrence wins
    }
    return found;
  };
  std::vector<std::string_view> order;
  if (!jwt_username_claim.empty()) order.push_back(jwt_username_claim);
  for (const std::string_view claim :
       {"email", "preferred_username", "upn", "unique_name", "sub"}) {
    order.push_back(claim);
  }
  for (const std::string_view claim : order) {
    const std::string* value = claim_value(claim);
    if (value != nullptr && value->find('@') != std::string::npos) return *value;
  }
  return std::nullopt;
}

bool identifier_is_valid(std::string_view identifier) noexcept {
  for (const char ch : identifier) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || c == ' ' || c == '"') return false;
  }
  return true;
}

void wipe(std::string& secret) noexcept {
  // Cleanse the whole buffer, not only the current size: the string may have
  // held a longer secret before, and a moved-from short string keeps its bytes.
  secret.resize(secret.capacity());
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace postern::sdk::sasl
