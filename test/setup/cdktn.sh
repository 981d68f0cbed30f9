#!/usr/bin/env bash
# Installs CDK Terrain (cdktn, the maintained fork of CDKTF) and its AWS bindings, as pinned by infra/cdktn's lock,
# into node_modules/.cdktn, for infra/test/cdktn-synth.test.ts. Not a root dependency: the fork wants constructs
# >=10.6, cdktf 0.21 pins 10.4.2. Under node_modules, so tsc, eslint and jest never crawl it, and a dot-folder, which
# npm leaves alone when it installs the root. Run by `npm test` before the suite; does nothing when that lock is
# already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

pinned=infra/cdktn
target=node_modules/.cdktn
installed_lock="$target/installed-package-lock.json"
if [ -f "$installed_lock" ] && cmp -s "$pinned/package-lock.json" "$installed_lock" && cmp -s "$pinned/package.json" "$target/package.json"; then
  exit 0
fi

if [ ! -d node_modules ]; then
  echo "test setup: node_modules is missing; run npm ci first, then npm test installs CDK Terrain beside it" >&2
  exit 1
fi
echo "test setup: installing CDK Terrain from $pinned/package-lock.json into $target"
rm -rf "$target"
mkdir -p "$target"
cp "$pinned/package.json" "$pinned/package-lock.json" "$target/"
# The bindings declare node >= 22.11 and still load on Node 20, where this suite also runs: a warning, not a stop.
npm ci --prefix "$target" --ignore-scripts --no-audit --no-fund --loglevel=error
# Written last, so an interrupted install is redone on the next run.
cp "$pinned/package-lock.json" "$installed_lock"
