// Loaded after valid_named.cpp, which uses the same plugin name.
#include "broken_plugin.hpp"

namespace {
const char* const other_claims[] = {"abi-test-other", nullptr};
}

POSTERN_TEST_DESCRIPTOR([] {
  auto d = postern::abi_test::valid_descriptor("abi-test-plugin");
  d.claims = other_claims;
  return d;
}())
