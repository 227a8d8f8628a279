#!/usr/bin/env bash
# The full-scale run recorded in benches/RESULTS.md, in phases so that the slow pandas
# paths run only where the bar needs them (lineitem SF1 read on PostgreSQL, the 1M-row
# write on every engine), then merged into one report.
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
run reads --ops read,stream,partitioned --rounds 3 --tools "$NOPANDAS" || true
run pandas-read --engines pg --ops read --dataset lineitem --rounds 1 --tools pandas || true
run writes --ops write --rounds 3 --tools sqlarrow,adbc,load_data,psql_copy_in || true
run pandas-write --ops write --dataset mixed --rounds 1 --tools pandas || true
run small --ops latency,threads --rounds 3 || true
"$HERE/.venv/bin/python" "$HERE/run.py" --rerender "$OUT"/reads.json "$OUT"/pandas-read.json \
    "$OUT"/writes.json "$OUT"/pandas-write.json "$OUT"/small.json \
    --out "$HERE/RESULTS.md" --json "$HERE/results.json" >/dev/null
echo "[full.sh] wrote $HERE/RESULTS.md"
