#!/usr/bin/env bash
# Tools the tests use that need a newer Node than the machine's (Node 20), installed beside the
# project in .tools/ from the npm registry: Node 22 with the MCP conformance suite's 2026-07-28
# line and the MCP Inspector (both need Node >= 22), and Node 24 for the smoke run. Kept out of
# package.json so that `npm ci` on any Node of its "engines" range installs nothing that does not
# declare support for it (no EBADENGINE warning). Idempotent; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  local dir=".tools/$1"
  shift
  local stamp="$dir/.installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ]; then return; fi
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$@" >/dev/null
  echo "$*" >"$stamp"
}

install node22 node@22.23.3 @modelcontextprotocol/conformance@0.2.0-alpha.12 @modelcontextprotocol/inspector@1.0.3
install node24 node@24.21.0
echo "node 22: $(.tools/node22/node_modules/.bin/node --version), node 24: $(.tools/node24/node_modules/.bin/node --version)"
