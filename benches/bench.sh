#!/usr/bin/env bash
# Benchmark entry point (`make bench`): sets up benches/.venv with the peers, builds
# sqlarrow in RELEASE mode (maturin build --release) and installs that wheel into the
# venv, then runs benches/run.py with the arguments given here.
#
#   bash benches/bench.sh [--quick] [run.py options...]
#
# Environment:
#   BENCH_SKIP_BUILD=1   do not build; benchmark whatever sqlarrow the venv has (or none)
#   BENCH_PROFILE=name   build with `--profile name` (e.g. bench-release) instead of --release
#   PYTHON=python3.x     interpreter used to create the venv
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="$HERE/.venv"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[bench.sh] creating $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
echo "[bench.sh] installing peers (benches/requirements.txt)"
"$VENV/bin/pip" install -q -r "$HERE/requirements.txt"

for tool in psql mariadb sqlite3 /usr/bin/time; do
    command -v "$tool" >/dev/null 2>&1 || echo "[bench.sh] warning: $tool not found" \
        "(apt-get install postgresql-client mariadb-client sqlite3 time); the matching" \
        "reference rows will be missing or less precise" >&2
done

if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    if [ -n "${BENCH_PROFILE:-}" ]; then PROFILE=(--profile "$BENCH_PROFILE"); else PROFILE=(--release); fi
    echo "[bench.sh] building sqlarrow (${PROFILE[*]}) with maturin"
    rm -rf "$HERE/.wheels"
    if (cd "$ROOT" && "$VENV/bin/maturin" build "${PROFILE[@]}" --out "$HERE/.wheels" \
            --interpreter "$VENV/bin/python"); then
        "$VENV/bin/pip" install -q --force-reinstall --no-deps "$HERE"/.wheels/sqlarrow-*.whl
    else
        echo "[bench.sh] sqlarrow release build FAILED: benchmarking the peers only" \
            "(sqlarrow reported as 'not built')" >&2
        "$VENV/bin/pip" uninstall -y -q sqlarrow >/dev/null 2>&1 || true
    fi
fi

exec "$VENV/bin/python" "$HERE/run.py" "$@"
