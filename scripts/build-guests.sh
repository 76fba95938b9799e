#!/usr/bin/env bash
# Rebuilds the committed guest modules of every non-Go language
# (conformance/<lang>/guest.wasm) with that language's build.sh. With --check,
# fails when a rebuilt module differs from the committed one: builds are
# reproducible, so a difference means a source changed without a rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[ "${1:-}" = "--check" ] && check=true
status=0
for b in conformance/*/build.sh; do
  dir=$(dirname "$b")
  lang=$(basename "$dir")
  before=$(sha256sum "$dir/guest.wasm" 2>/dev/null | cut -d' ' -f1 || true)
  echo "== build $lang"
  (cd "$dir" && bash ./build.sh)
  after=$(sha256sum "$dir/guest.wasm" | cut -d' ' -f1)
  if $check && [ "$before" != "$after" ]; then
    echo "$dir/guest.wasm changed when rebuilt ($before -> $after): commit the rebuilt module" >&2
    status=1
  fi
done
exit $status
