# postern_add_plugin(<name> SOURCES <src>... [LIBRARIES <lib>...] [NO_INSTALL])
#
# Builds libpostern-<name>.so, the file name the kernel looks for in its plugin
# directory, with hidden visibility (only postern_plugin_entry is exported),
# no undefined symbols, and the SDK runtime linked; installs it into
# lib/postern/plugins unless NO_INSTALL is given.
function(postern_add_plugin name)
  cmake_parse_arguments(PLUGIN "NO_INSTALL" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT PLUGIN_SOURCES)
    message(FATAL_ERROR "postern_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${PLUGIN_SOURCES})
  target_link_libraries(${name} PRIVATE PosternSDK::runtime ${PLUGIN_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "libpostern-${name}"
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(POSTERN_SDK_SANITIZE)
    target_compile_options(${name} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${name} PRIVATE -fsanitize=address,undefined)
  endif()
  if(NOT PLUGIN_NO_INSTALL)
    # The runtime library sits two levels up (lib/), next to the daemon's.
    set_target_properties(${name} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
    install(TARGETS ${name} LIBRARY DESTINATION lib/postern/plugins)
  endif()
  if(DEFINED POSTERN_PLUGIN_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${POSTERN_PLUGIN_OUTPUT_DIRECTORY})
  endif()
endfunction()
