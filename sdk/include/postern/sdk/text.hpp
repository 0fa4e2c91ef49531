// Text checks shared by plugins and the kernel. Pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace postern::sdk {

// Offset of the first byte of `text` that breaks well-formed UTF-8 (RFC 3629
// section 4: no overlong forms, no surrogates, nothing above U+10FFFF), or
// std::string_view::npos when all of it is valid.
std::size_t invalid_utf8_offset(std::string_view text) noexcept;

}  // namespace postern::sdk
