# Checks (or, with -DUPDATE=ON, rewrites) sdk/abi.lock: a hash of every public
# SDK header plus the ABI version it was taken at. A header change therefore
# cannot land without a deliberate lock update, a version bump in abi.h and a
# line in docs/sdk/abi-changelog.md.
#   cmake -DSOURCE_DIR=<repo> [-DUPDATE=ON] -P sdk/cmake/check_abi_lock.cmake
get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)
set(sdk_include ${SOURCE_DIR}/sdk/include)
file(GLOB_RECURSE headers RELATIVE ${sdk_include} ${sdk_include}/*)
list(SORT headers)
set(listing "")
foreach(header IN LISTS headers)
  file(SHA256 ${sdk_include}/${header} digest)
  string(APPEND listing "${header} ${digest}\n")
endforeach()
if(NOT headers)
  message(FATAL_ERROR "no public headers found under ${sdk_include}")
endif()
string(SHA256 headers_hash "${listing}")

file(STRINGS ${sdk_include}/postern/sdk/abi.h major_line REGEX "^#define POSTERN_ABI_MAJOR ")
file(STRINGS ${sdk_include}/postern/sdk/abi.h minor_line REGEX "^#define POSTERN_ABI_MINOR ")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" major "${major_line}")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" minor "${minor_line}")
set(expected "${headers_hash} abi=${major}.${minor}")

if(UPDATE)
  file(WRITE ${SOURCE_DIR}/sdk/abi.lock "${expected}\n")
  message(STATUS "sdk/abi.lock updated: ${expected}")
  return()
endif()

file(STRINGS ${SOURCE_DIR}/sdk/abi.lock locked LIMIT_COUNT 1)
if(NOT locked STREQUAL expected)
  message(FATAL_ERROR "The public SDK headers changed: sdk/abi.lock says '${locked}', the headers give "
                      "'${expected}'. Bump POSTERN_ABI_MINOR (additions) or POSTERN_ABI_MAJOR (layout or "
                      "v-table changes) in sdk/include/postern/sdk/abi.h, add a line to "
                      "docs/sdk/abi-changelog.md, then run: cmake -DSOURCE_DIR=. -DUPDATE=ON -P "
                      "sdk/cmake/check_abi_lock.cmake")
endif()
file(READ ${SOURCE_DIR}/docs/sdk/abi-changelog.md changelog)
string(FIND "${changelog}" "## ${major}.${minor}" changelog_entry)
if(changelog_entry EQUAL -1)
  message(FATAL_ERROR "docs/sdk/abi-changelog.md has no '## ${major}.${minor}' entry")
endif()
message(STATUS "SDK headers match sdk/abi.lock (abi=${major}.${minor})")
