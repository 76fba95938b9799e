#!/bin/sh
# Builds conformance/rust/guest.wasm from src/lib.rs and the Rust SDK
# (guest-sdk/rust). Needs Debian's rustc and libstd-rust-dev-wasm32
# (scripts/toolchains/rust.sh): a rustup toolchain earlier on PATH usually has
# no wasm target, so /usr/bin/rustc is used unless RUSTC says otherwise.
#
# Reproducible: the same toolchain gives the same bytes wherever the repository
# is checked out. That is why this calls rustc directly with the flags of
# Cargo.toml's release profile: cargo mixes the absolute path of a path
# dependency outside its workspace (the SDK) into symbol hashes, which changes
# code layout even with symbols stripped. `cargo build --release --target
# wasm32-wasi` builds an equivalent module.
set -eu
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
rustc="${RUSTC:-/usr/bin/rustc}"
# wasm32-wasi until Rust 1.78 named it wasm32-wasip1.
target="${TARGET:-$("$rustc" --print target-list | grep -qx wasm32-wasip1 && echo wasm32-wasip1 || echo wasm32-wasi)}"
out=target/build-sh
mkdir -p "$out"
flags="--edition 2021 --target $target -C opt-level=s -C panic=abort -C codegen-units=1 -C debuginfo=0
	--remap-path-prefix=$root=/reprise --cap-lints warn"
# shellcheck disable=SC2086
"$rustc" $flags --crate-type rlib --crate-name reprise -C metadata=reprise-sdk \
	-o "$out/libreprise.rlib" ../../guest-sdk/rust/src/lib.rs
# shellcheck disable=SC2086
"$rustc" $flags --crate-type cdylib --crate-name reprise_conformance -C metadata=reprise-conformance \
	-C lto=fat -C strip=symbols --extern reprise="$out/libreprise.rlib" \
	-o "$out/guest.wasm" src/lib.rs
cp "$out/guest.wasm" guest.wasm.tmp
mv guest.wasm.tmp guest.wasm
