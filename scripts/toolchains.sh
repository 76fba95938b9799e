#!/usr/bin/env bash
# Installs the guest toolchains of every language that has a script in
# scripts/toolchains/ (apt packages and npm packages; run as root on Debian 12).
# Go needs none: Go guests are built by the Go toolchain itself.
set -euo pipefail
cd "$(dirname "$0")/.."
for s in scripts/toolchains/*.sh; do
  echo "== toolchain: $(basename "$s" .sh)"
  bash "$s"
done
