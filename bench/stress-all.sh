#!/usr/bin/env bash
# The whole warp stress measurement (issue 8 item 3), quality only (run at nice 19, no lock):
#   1. stress folders (phantoms; JSRT first 40 test images) with known transforms,
#   2. warp-only bench on each folder (this checkout; BEFORE=DIR runs another checkout too, e.g. a `git archive main`
#      with node_modules linked), the reference-copy floor, 3. elastix on each folder, 4. the table.
# Usage: bench/stress-all.sh [OUT=/work/team/results/robust]   env: BEFORE=/path/to/old/checkout  JSRT=../shared/data/jsrt-scr
set -euo pipefail
OUT=${1:-/work/team/results/robust}
JSRT=${JSRT:-../shared/data/jsrt-scr}
here=$(pwd)
[ -d "$OUT/stress/phantom" ] || npx tsx bench/stress-set.ts --source phantom --out "$OUT/stress/phantom" --limit 40
[ -d "$OUT/stress/jsrt" ] || npx tsx bench/stress-set.ts --source "$JSRT" --out "$OUT/stress/jsrt" --limit 40
for ds in phantom jsrt; do
  if [ -n "${BEFORE:-}" ]; then
    cp bench/stress-bench.ts "$BEFORE/bench/"
    (cd "$BEFORE" && npx tsx bench/stress-bench.ts --root "$OUT/stress/$ds" --tag "before-$ds" && cp "bench/results/stress-before-$ds.json" "$here/bench/results/")
  fi
  npx tsx bench/stress-bench.ts --root "$OUT/stress/$ds" --tag "after-$ds"
  for t in $(ls "$OUT/stress/$ds"); do
    [ -f "$OUT/elastix/$ds-$t/summary.json" ] || python3 bench/stress/elastix.py "$OUT/stress/$ds/$t" "$OUT/elastix/$ds-$t" --jobs 2
  done
  # mixed sizes: elastix with each image spanning the reference (squash, run.py's way) and isotropic (longest side)
  [ -f "$OUT/elastix/$ds-mixed-size-longest/summary.json" ] || python3 bench/stress/elastix.py "$OUT/stress/$ds/mixed-size" "$OUT/elastix/$ds-mixed-size-longest" --frame longest --jobs 2
  npx tsx bench/stress-table.ts --before "bench/results/stress-before-$ds.json" --after "bench/results/stress-after-$ds.json" --elastix "$OUT/elastix" --dataset "$ds" | tee "bench/results/stress-table-$ds.md"
done
