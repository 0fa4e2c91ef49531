#include "broken_plugin.hpp"

POSTERN_TEST_DESCRIPTOR([] {
  auto d = postern::abi_test::valid_descriptor("wrong-major");
  d.abi_major = POSTERN_ABI_MAJOR + 1;
  return d;
}())
