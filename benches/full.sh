#!/usr/bin/env bash
# The full-scale run recorded in benches/RESULTS.md, in phases so that it fits in under
# an hour on 2 CPUs: the slow pandas paths run only where the bar needs them (lineitem
# SF1 read on PostgreSQL, twice; the 1M-row write on every engine, once), lineitem
# reads in 3 rounds (with one, a single slow read decided its line), streaming on the
# 10M-row table; the phases are merged into one report.
#
#   BENCH_SKIP_BUILD=1 bash benches/full.sh      # benchmark the sqlarrow already installed
#
# `make bench` (benches/bench.sh without --quick) runs everything, pandas included
# everywhere, in one go: about 1.5 hours on 2 CPUs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/.full"
mkdir -p "$OUT"
run() {
    local name="$1"
    shift
    BENCH_SKIP_BUILD=1 bash "$HERE/bench.sh" "$@" --out "$OUT/$name.md" --json "$OUT/$name.json"
}
if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    # Build and install the release wheel once (bench.sh does it), then run nothing.
    bash "$HERE/bench.sh" --help >/dev/null
fi
NOPANDAS="sqlarrow,sqlarrow_1conn,connectorx,adbc,polars_cx,polars_adbc,psql_copy,pg_server_copy,mysql_cli,sqlite_cli"
run reads --ops read --dataset mixed,ints --rounds 2 --tools "$NOPANDAS" || true
run lineitem --ops read --dataset lineitem --rounds 3 --tools "$NOPANDAS" || true
run stream --ops stream --dataset ints --rounds 2 --tools "$NOPANDAS" || true
run partitioned --ops partitioned --dataset mixed,ints --rounds 2 || true
run writes --ops write --rounds 2 --tools sqlarrow,adbc,load_data,psql_copy_in || true
run small --ops latency,threads --rounds 3 || true
run pandas-read --engines pg --ops read --dataset lineitem --rounds 2 --tools pandas || true
run pandas-write --ops write --dataset ints --rounds 1 --tools pandas || true
PHASES=()
for p in reads lineitem stream partitioned writes small pandas-read pandas-write; do
    [ -f "$OUT/$p.json" ] && PHASES+=("$OUT/$p.json")
done
"$HERE/.venv/bin/python" "$HERE/run.py" --rerender "${PHASES[@]}" \
    --out "$HERE/RESULTS.md" --json "$HERE/results.json" >/dev/null
echo "[full.sh] wrote $HERE/RESULTS.md"
