#include "broken_plugin.hpp"

POSTERN_TEST_DESCRIPTOR(postern::abi_test::valid_descriptor("abi-test-plugin"))
