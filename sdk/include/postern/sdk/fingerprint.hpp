// The build fingerprint compiled into the kernel and into every plugin. Two
// parts: what the SDK was built with (generated at SDK configure time:
// Boost, OpenSSL, Asio configuration) and what this translation unit is being
// compiled with (compiler, standard library, sanitizers). The kernel refuses a
// plugin whose fingerprint differs from its own.
#pragma once

#include <postern/sdk/abi.h>
#include <postern/sdk/build_config.h>

#define POSTERN_STRINGIFY_IMPL(x) #x
#define POSTERN_STRINGIFY(x) POSTERN_STRINGIFY_IMPL(x)

#if defined(__clang__)
#define POSTERN_FP_COMPILER "clang-" POSTERN_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define POSTERN_FP_COMPILER "gcc-" POSTERN_STRINGIFY(__GNUC__)
#else
#define POSTERN_FP_COMPILER "unknown"
#endif

#if defined(_GLIBCXX_RELEASE)
#define POSTERN_FP_STDLIB                                  \
  "libstdc++-" POSTERN_STRINGIFY(_GLIBCXX_RELEASE) "-abi" \
      POSTERN_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define POSTERN_FP_STDLIB "stdlib-unknown"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define POSTERN_FP_ASAN "asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POSTERN_FP_ASAN "asan"
#endif
#endif
#ifndef POSTERN_FP_ASAN
#define POSTERN_FP_ASAN "noasan"
#endif

#if defined(_GLIBCXX_DEBUG)
#define POSTERN_FP_DEBUG_CONTAINERS "glibcxx-debug"
#else
#define POSTERN_FP_DEBUG_CONTAINERS "std-containers"
#endif

/* Fields are ';'-separated so that the kernel can name the ones that differ. */
#define POSTERN_BUILD_FINGERPRINT                                                          \
  "abi=" POSTERN_STRINGIFY(POSTERN_ABI_MAJOR) ";compiler=" POSTERN_FP_COMPILER           \
      ";stdlib=" POSTERN_FP_STDLIB ";sanitizer=" POSTERN_FP_ASAN                          \
      ";containers=" POSTERN_FP_DEBUG_CONTAINERS ";" POSTERN_SDK_BUILD_CONFIG
