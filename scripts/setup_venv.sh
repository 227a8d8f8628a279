#!/usr/bin/env bash
# Create the development virtualenv (default .venv) if missing and install the
# build tool and the `test` + `dev` extras from pyproject.toml into it.
# Re-installs only when pyproject.toml changes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${1:-${SQLARROW_VENV:-$PWD/.venv}}"
PYTHON_BIN="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON_BIN" -m venv "$VENV"
fi
# Reinstall the tool and test dependencies only when pyproject.toml changes.
STAMP="$VENV/.sqlarrow-deps"
DEPS_HASH="$(sha256sum pyproject.toml scripts/setup_venv.sh | sha256sum | cut -c1-16)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$DEPS_HASH" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    mapfile -t REQS < <("$VENV/bin/python" - <<'PY'
import sys
try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
reqs = list(project["build-system"]["requires"])
extras = project["project"].get("optional-dependencies", {})
for name in ("test", "dev"):
    reqs.extend(extras.get(name, []))
print("\n".join(dict.fromkeys(reqs)))
PY
)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${REQS[@]}"
    echo "$DEPS_HASH" >"$STAMP"
fi

