#include "broken_plugin.hpp"

POSTERN_TEST_DESCRIPTOR([] {
  auto d = postern::abi_test::valid_descriptor("newer-minor");
  d.abi_minor = POSTERN_ABI_MINOR + 1;
  return d;
}())
