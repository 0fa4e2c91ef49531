#!/usr/bin/env bash
# Installs the SDK and postern from the build tree, builds the example
# mapping plugin as a separate CMake project against the *installed* SDK,
# and loads it into the installed postern (default plugin directory).
set -euo pipefail
build=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$source_dir/sdk/examples/mapping-static" -B "$work/example" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/example" >/dev/null
cp "$work/example/libpostern-mapping-static.so" "$work/prefix/lib/postern/plugins/"

write_config() {
  cat >"$work/postern.toml" <<TOML
[listener.imap]
protocol = "imap"
bind = ["127.0.0.1:1143"]
tls = "plain"

[capabilities.imap]
allow_plain_auth_without_tls = true

[destination.old]
host = "localhost"
allow_plaintext_auth = true
[destination.old.protocol.imap]
port = 2143
tls = "plain"

[destination.new]
host = "localhost"
allow_plaintext_auth = true
[destination.new.protocol.imap]
port = 3143
tls = "plain"

[routing]
default_destination = "old"

[mapping]
source = "static"

[mapping.static]
entries = [$1]
TOML
}

unset POSTERN_PLUGIN_DIR
write_config '"alice@example.test=new"'
out=$("$work/prefix/bin/postern" --check "$work/postern.toml" 2>&1) || {
  echo "FAIL: a valid configuration using the out-of-tree plugin was refused:"
  echo "$out"
  exit 1
}
echo "$out"

write_config '"alice@example.test=nowhere"'
if out=$("$work/prefix/bin/postern" --check "$work/postern.toml" 2>&1); then
  echo "FAIL: an entry naming an undeclared destination was accepted"
  exit 1
fi
echo "$out"
grep -q 'mapping.static.entries: .*nowhere.*\[plugin mapping-static ' <<<"$out" || {
  echo "FAIL: the plugin's diagnostic is missing or not tagged with the plugin"
  exit 1
}
echo "out-of-tree plugin built against the installed SDK and loaded by the installed postern"
