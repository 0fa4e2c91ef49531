// mapping.normalize: how a routing identifier becomes a mapping key.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"

namespace postern::kernel {

// `none` returns the key unchanged; `lowercase` lowercases every Unicode
// letter of a UTF-8 key (simple case mapping). Bytes that are not valid
// UTF-8 are copied unchanged, so any input has a key.
std::string normalize_key(Normalize mode, std::string_view key);

}  // namespace postern::kernel
