#!/usr/bin/env bash
# End-to-end tests of the search page: Debian chromium driven by playwright-core (npm),
# against real `needle serve` processes started by the tests. The binary is $NEEDLE_BIN, or
# <target>/debug/needle with <target> = $CARGO_TARGET_DIR or <repo>/target, built with
# `cargo build -p needle` when missing. Screenshots and server logs land in ui/tests/artifacts/.
# Works from a clean clone: installs Debian's chromium (and Node.js) when missing, then
# `npm ci`. Extra arguments go to `node --test` (e.g. --test-name-pattern=similar).
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
chromium="${CHROMIUM:-/usr/bin/chromium}"
missing=()
[ -x "$chromium" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# npm ci when playwright-core is missing or not the locked version.
locked=$(node -p "require('./package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "try { require('./node_modules/playwright-core/package.json').version } catch { '' }")
if [ "$locked" != "$have" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
rm -rf artifacts && mkdir -p artifacts
status=0
node --test --test-reporter=spec "$@" e2e.test.mjs || status=$?
echo "ui/tests: $(( $(date +%s) - start )) s; screenshots in $(pwd)/artifacts"
exit $status
