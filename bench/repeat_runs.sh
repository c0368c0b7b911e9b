#!/usr/bin/env bash
# Repeats the whole in-place suite and reports every case whose verdict changed between runs
# (issue "Full coverage": no flakes). Numbers, not a test: it prints the verdict counts per run and
# the flaky cases, and exits 1 when a case changed verdict, 2 on bad usage.
# usage: repeat_runs.sh BIN_DIR RUNS OUT_DIR [BUSY_RUN]
#   BUSY_RUN (default 1): the run that keeps every CPU busy with a spinning process meanwhile.
set -uo pipefail
if [[ $# -lt 3 || ! -x $1/netns-conform ]]; then
  echo "usage: $0 BIN_DIR RUNS OUT_DIR [BUSY_RUN]" >&2
  exit 2
fi
bin=$1 runs=$2 out=$3 busy_run=${4:-1}
cpus=$(nproc)
mkdir -p "$out"
for ((i = 1; i <= runs; i++)); do
  spinners=()
  if [[ $i -eq $busy_run ]]; then
    for ((c = 0; c < cpus; c++)); do
      (while :; do :; done) &
      spinners+=($!)
    done
  fi
  start=$(date +%s.%N)
  "$bin/netns-conform" run -j "$cpus" --out "$out/run-$i" > "$out/run-$i.log" 2>&1
  status=$?
  end=$(date +%s.%N)
  for pid in "${spinners[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null; done
  printf 'run %2d%s: exit %d, %s, %.1f s\n' "$i" "$([[ $i -eq $busy_run ]] && echo ' (cpus busy)')" \
    "$status" "$(tail -n 2 "$out/run-$i.log" | head -n 1 | sed 's/ in [0-9.]*s$//')" \
    "$(echo "$end - $start" | bc)"
done
python3 - "$out" "$runs" <<'PY'
import json, sys, collections
out, runs = sys.argv[1], int(sys.argv[2])
verdicts = collections.defaultdict(dict)
for i in range(1, runs + 1):
    try:
        run = json.load(open("%s/run-%d/results.json" % (out, i)))
    except Exception as e:
        print("run %d: no results.json (%s)" % (i, e))
        continue
    for c in run["cases"]:
        verdicts[c["id"]][i] = c["status"]
flaky = {case: runs_ for case, runs_ in verdicts.items() if len(set(runs_.values())) > 1}
print("%d cases over %d runs: %d changed verdict" % (len(verdicts), runs, len(flaky)))
for case, by_run in sorted(flaky.items()):
    print("  %s: %s" % (case, " ".join("%d=%s" % kv for kv in sorted(by_run.items()))))
sys.exit(1 if flaky else 0)
PY
