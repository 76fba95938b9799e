#!/bin/sh
# Builds conformance/c/guest.wasm from guest.c and the C SDK (guest-sdk/c).
# Needs clang, lld, wasi-libc and libclang-rt-dev-wasm32 (scripts/toolchains/c.sh).
# The build is reproducible: the same toolchain gives the same bytes.
set -eu
cd "$(dirname "$0")"
sdk=../../guest-sdk/c
${CC:-clang} --target=wasm32-wasi -mexec-model=reactor -O2 -g0 \
	-Wall -Wextra -Werror -std=c11 \
	-ffile-prefix-map="$(cd ../.. && pwd)"=. \
	-I "$sdk" -o guest.wasm.tmp guest.c "$sdk/reprise.c" \
	-Wl,--strip-debug
mv guest.wasm.tmp guest.wasm
