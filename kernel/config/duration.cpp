// Duration strings, behavior.md section 2.2.
#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "config/load.hpp"

namespace postern::kernel {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

constexpr std::string_view units_hint = "use ms, s, m, h or d";

}  // namespace

DurationParse parse_duration(std::string_view text) {
  const std::string_view trimmed = trim(text);
  if (trimmed.empty()) return {std::nullopt, "empty duration; expected a number and a unit such as \"30s\""};
  // The unit starts at the first ASCII letter, so "1h30m" has the unit "h30m".
  const auto letter = std::ranges::find_if(trimmed, is_letter);
  if (letter == trimmed.end()) {
    return {std::nullopt, fmt::format("missing duration unit in \"{}\"; {}", trimmed, units_hint)};
  }
  const auto split = static_cast<std::size_t>(letter - trimmed.begin());
  const std::string_view number = trim(trimmed.substr(0, split));
  const std::string_view unit = trimmed.substr(split);

  std::uint64_t value = 0;
  const bool digits_only =
      !number.empty() && std::ranges::all_of(number, [](char c) { return c >= '0' && c <= '9'; });
  const auto parsed = std::from_chars(number.data(), number.data() + number.size(), value);
  if (!digits_only || parsed.ec != std::errc{}) {
    return {std::nullopt, fmt::format("invalid duration \"{}\": expected a non-negative whole number "
                                      "before the unit",
                                      trimmed)};
  }

  std::uint64_t per_unit_ms = 0;
  if (unit == "ms") {
    per_unit_ms = 1;
  } else if (unit == "s") {
    per_unit_ms = 1'000;
  } else if (unit == "m") {
    per_unit_ms = 60'000;
  } else if (unit == "h") {
    per_unit_ms = 3'600'000;
  } else if (unit == "d") {
    per_unit_ms = 86'400'000;
  } else {
    return {std::nullopt, fmt::format("unknown duration unit '{}' in \"{}\"; {}", unit, trimmed, units_hint)};
  }
  constexpr auto max_ms = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  if (value > max_ms / per_unit_ms) {
    return {std::nullopt, fmt::format("duration \"{}\" is too large", trimmed)};
  }
  return {Duration(static_cast<Duration::rep>(value * per_unit_ms)), {}};
}

}  // namespace postern::kernel
