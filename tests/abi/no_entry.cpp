// A shared library that is not a Postern plugin: it exports no entry point.
extern "C" __attribute__((visibility("default"))) int postern_abi_test_unrelated_symbol() { return 42; }
