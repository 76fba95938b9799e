#!/bin/sh
# Installs the C toolchain for WebAssembly guests (guest-sdk/c,
# conformance/c/build.sh): clang 14 and lld, wasi-libc and the wasm32
# compiler-rt builtins, from Debian 12's packages. Idempotent: installs only
# what is missing, running apt-get update first. Run as root.
# Prints the path of clang on stdout (apt's output goes to stderr).
#
#   CC=$(scripts/toolchains/c.sh)
set -eu
pkgs="clang lld wasi-libc libclang-rt-dev-wasm32"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing >&2
fi
clang --version | head -n 1 >&2
command -v clang
