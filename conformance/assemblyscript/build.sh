#!/bin/sh
# Builds guest.wasm, the AssemblyScript conformance guest (see ../CONTRACT.md).
# Reproducible: the same sources and compiler give the same bytes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
asc=$("$here/../../scripts/toolchains/assemblyscript.sh")
cd "$here"
# --runtime stub: a bump allocator (an attempt runs on a fresh instance, so never
#   freeing is fine) and no GC; --use abort=...: aborts trap through the SDK
#   instead of importing env.abort, which the host refuses.
"$asc" guest.ts -o guest.wasm \
	--runtime stub -Oz --noAssert \
	--disable nontrapping-f2i \
	--use abort=../../guest-sdk/assemblyscript/assembly/index/reprise_abort
