#!/usr/bin/env bash
# Python SDK tests: a fresh venv, the package installed as a user would (`pip install`),
# pytest against a real `needle serve` that the tests start (target/debug/needle, built
# with `cargo build -p needle` when missing; or $NEEDLE_BIN). Exit 0 when every test passes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${NEEDLE_SDK_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null
# Non-editable: the tests import the installed package, not the source tree.
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$here"
"$venv/bin/python" -m pip install --quiet "$here[test]"
cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider -rs "$@"
