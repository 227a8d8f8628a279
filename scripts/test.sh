#!/usr/bin/env bash
# The whole test suite, from a fresh machine or a warm one (idempotent):
#   1. local PostgreSQL running and configured (scripts/ensure_services.sh);
#   2. .venv with maturin and the test/dev extras;
#   3. the extension built into .venv with `maturin develop` (dev profile;
#      dependencies are optimized through the Cargo profile);
#   4. `cargo test -p sqlarrow-core`;
#   5. pytest (integration tests against the real servers; a missing server fails).
# Extra arguments go to pytest, e.g. `scripts/test.sh -k sqlite -x`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
VENV="${SQLARROW_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

step() { echo; echo "==> $*"; }

step "database services"
bash scripts/ensure_services.sh
bash scripts/ensure_mariadb.sh

# CI runs in a fresh clone each time: keep compiled dependencies between runs on the
# same machine (a cold build of the dependency tree is most of the run time).
if [ "${CI:-}" = "true" ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="$HOME/.cache/sqlarrow/target"
    mkdir -p "$CARGO_TARGET_DIR"
fi

step "python environment ($VENV)"
bash scripts/setup_venv.sh "$VENV"

command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install a Rust toolchain" >&2; exit 1; }

step "build the extension (maturin develop, dev profile)"
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
"$VENV/bin/maturin" develop

# Both suites run even when the first fails, so one run reports everything;
# the script still exits non-zero if either failed.
status=0

step "cargo test -p sqlarrow-core"
cargo test -p sqlarrow-core --quiet || status=1

step "pytest"
# The dev build warns at import that it is a debug build; tests know.
export SQLARROW_NO_DEBUG_WARNING=1
"$VENV/bin/python" -m pytest -q "$@" || status=1

if [ "$status" -ne 0 ]; then
    echo >&2
    echo "==> FAILED (see cargo test / pytest output above)" >&2
fi
exit "$status"
