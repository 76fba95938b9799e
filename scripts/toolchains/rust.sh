#!/bin/sh
# Installs the Rust toolchain for WebAssembly guests (guest-sdk/rust,
# conformance/rust/build.sh): Debian 12's rustc and cargo (1.63) with the
# wasm32-wasi standard library. Idempotent: installs only what is missing,
# running apt-get update first. Run as root.
# Prints the path of the compiler on stdout (apt's output goes to stderr).
# Build with /usr/bin/rustc and /usr/bin/cargo: a rustup toolchain earlier on
# PATH usually has no wasm target.
#
#   RUSTC=$(scripts/toolchains/rust.sh)
set -eu
pkgs="rustc cargo libstd-rust-dev-wasm32"
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
/usr/bin/rustc --version >&2
[ -d "$(/usr/bin/rustc --print sysroot)/lib/rustlib/wasm32-wasi/lib" ] ||
	{ echo "rust.sh: /usr/bin/rustc has no wasm32-wasi standard library" >&2; exit 1; }
echo /usr/bin/rustc
