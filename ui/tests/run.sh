#!/usr/bin/env bash
# End-to-end tests of the search page: Debian chromium driven by playwright-core (npm),
# against a real `needle serve` (target/debug/needle, built when missing, or $NEEDLE_BIN)
# behind proxy.py. Screenshots and the server log land in ui/tests/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "== installing Debian chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
rm -rf artifacts && mkdir -p artifacts
exec node --test --test-reporter=spec e2e.test.mjs
