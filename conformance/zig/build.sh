#!/bin/sh
# Builds guest.wasm, the Zig conformance guest (see ../CONTRACT.md).
# Reproducible: the same sources and compiler give the same bytes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
zig=${ZIG:-$("$here/../../scripts/toolchains/zig.sh")}
cd "$here"
# A wasm32-freestanding reactor: no WASI imports, only reprise_v1; -rdynamic
# exports run, echo and memory. A private cache keeps builds independent.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
"$zig" build-lib -dynamic -rdynamic \
	-target wasm32-freestanding -O ReleaseSmall -fstrip \
	--cache-dir "$cache" --global-cache-dir "$cache" \
	--mod reprise::../../guest-sdk/zig/reprise.zig --deps reprise \
	guest.zig -femit-bin=guest.wasm
rm -f guest.wasm.o
chmod 644 guest.wasm
