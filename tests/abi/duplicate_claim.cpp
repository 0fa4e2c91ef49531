// Claims the same mapping source as valid_named.cpp under another name.
#include "broken_plugin.hpp"

POSTERN_TEST_DESCRIPTOR(postern::abi_test::valid_descriptor("abi-test-claim-twin"))
