/*
 * Postern plugin ABI: the one C structure the kernel reads from a plugin file
 * before it trusts anything else in it.
 *
 * Compatibility policy
 * --------------------
 * - POSTERN_ABI_MAJOR changes whenever the layout or the virtual table of any
 *   type that crosses the kernel/plugin boundary changes (every header under
 *   postern/sdk/). The kernel refuses a plugin whose major differs.
 * - POSTERN_ABI_MINOR changes for additions an older plugin can ignore (new
 *   fields appended at the end of postern_host, new optional interfaces).
 *   The kernel refuses a plugin built against a newer minor than its own.
 * - The build fingerprint (compiler, standard library, Boost, OpenSSL,
 *   sanitizers, ABI major) must match the kernel's byte for byte: the boundary
 *   carries C++ types, so any difference is undefined behaviour.
 * - Every change of the public headers updates sdk/abi.lock, bumps the version
 *   and adds a line to docs/sdk/abi-changelog.md (a test enforces the lock).
 * - Plugins are loaded once and never unloaded.
 */
#ifndef POSTERN_SDK_ABI_H
#define POSTERN_SDK_ABI_H

#include <stddef.h>
#include <stdint.h>

#define POSTERN_PLUGIN_MAGIC 0x31545350u /* the bytes "PST1" on little-endian machines */
#define POSTERN_ABI_MAJOR 1
#define POSTERN_ABI_MINOR 0
#define POSTERN_PLUGIN_ENTRY_SYMBOL "postern_plugin_entry"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum postern_plugin_kind {
  POSTERN_KIND_PROTOCOL = 1, /* create() returns postern::sdk::ProtocolPlugin* */
  POSTERN_KIND_MAPPING = 2   /* create() returns postern::sdk::MappingPlugin*  */
} postern_plugin_kind;

/* What the kernel hands to a plugin's factory. Grows only at the end. */
typedef struct postern_host {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  void* services; /* postern::sdk::Host*, owned by the kernel, lives as long as the process */
} postern_host;

typedef struct postern_plugin_descriptor {
  uint32_t magic;                    /* POSTERN_PLUGIN_MAGIC */
  uint32_t struct_size;              /* sizeof(postern_plugin_descriptor) of the plugin's SDK */
  uint16_t abi_major;                /* must equal the kernel's */
  uint16_t abi_minor;                /* must be <= the kernel's */
  const char* build_fingerprint;     /* must equal the kernel's */
  const char* name;                  /* unique: "imap", "mapping-file" */
  const char* version;               /* the plugin's own version */
  uint32_t kind;                     /* postern_plugin_kind */
  const char* const* claims;         /* protocols or mapping sources served, NULL-terminated */
  const char* const* config_tables;  /* dotted tables handed to the plugin, NULL-terminated */
  /* Creates the plugin object (kind-specific, owned by the kernel). On failure
   * returns NULL and writes a NUL-terminated reason into error. Never throws. */
  void* (*create)(const postern_host* host, char* error, size_t error_size);
} postern_plugin_descriptor;

typedef const postern_plugin_descriptor* (*postern_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* POSTERN_SDK_ABI_H */
