#!/bin/sh
# Installs the pinned AssemblyScript compiler (guest-sdk/assemblyscript/package-lock.json)
# into guest-sdk/assemblyscript/node_modules, idempotently.
# Prints the path of asc on stdout.
#
#   ASC=$(scripts/toolchains/assemblyscript.sh)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/guest-sdk/assemblyscript"
asc="$dir/node_modules/.bin/asc"
want=$(sed -n 's/.*"assemblyscript": *"\([^"]*\)".*/\1/p' "$dir/package.json")

if [ -x "$asc" ] && [ "$("$asc" --version 2>/dev/null)" = "Version $want" ] &&
	cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.reprise" 2>/dev/null; then
	echo "$asc"
	exit 0
fi

command -v npm >/dev/null || { echo "assemblyscript.sh: npm is required (node >= 20)" >&2; exit 1; }
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >&2)
cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.reprise"
got=$("$asc" --version)
[ "$got" = "Version $want" ] || { echo "assemblyscript.sh: got asc $got, want $want" >&2; exit 1; }
echo "$asc"
