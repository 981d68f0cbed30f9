#!/usr/bin/env bash
# Installs what the bench needs beyond node_modules: libvips's own `vipsthumbnail`, the practical ceiling the
# resize processor is compared with. Debian/Ubuntu only; elsewhere install libvips's tools by hand.
set -euo pipefail

if command -v vipsthumbnail >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/setup.sh: vipsthumbnail is missing and apt-get is not available; install libvips-tools (or vips) yourself" >&2
  exit 1
fi
SUDO=''
if [ "$(id -u)" -ne 0 ]; then
  SUDO='sudo'
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvips-tools
