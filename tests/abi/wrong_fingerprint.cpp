#include "broken_plugin.hpp"

POSTERN_TEST_DESCRIPTOR([] {
  auto d = postern::abi_test::valid_descriptor("wrong-fingerprint");
  d.build_fingerprint = "abi=1;compiler=gcc-11;stdlib=libstdc++-11-abi1;sanitizer=noasan";
  return d;
}())
