#include "broken_plugin.hpp"

POSTERN_TEST_DESCRIPTOR([] {
  auto d = postern::abi_test::valid_descriptor("bad-magic");
  d.magic = 0xdeadbeefu;
  return d;
}())
