#!/bin/bash
# The conformance suite in place through the runner, in two ctest steps so that a FAILing case
# fails only the verdict step while the tests that read the reports still run:
#   suite_inplace_test.sh run BIN_FOLDER OUT    runs `netns-conform run --out OUT`; passes when the
#                                               reports were written (exit 0 or 1) and records the
#                                               runner's exit status in OUT/exit_status
#   suite_inplace_test.sh verdict OUT           passes when the runner exited 0 and every case is
#                                               PASS or SKIP; prints each other case with its reason
set -uo pipefail

usage() {
  echo "usage: $0 run BIN_FOLDER OUT | verdict OUT" >&2
  exit 2
}

case ${1:-} in
  run)
    [[ $# -eq 3 && -x $2/netns-conform ]] || usage
    out=$3
    rm -rf "$out"
    "$2/netns-conform" run --out "$out"
    status=$?
    echo "netns-conform run exited $status"
    if [[ $status -gt 1 || ! -s $out/results.json || ! -s $out/junit.xml ]]; then
      echo "FAIL: the run wrote no reports (exit $status)"
      exit 1
    fi
    echo "$status" >"$out/exit_status"
    ;;
  verdict)
    [[ $# -eq 2 ]] || usage
    out=$2
    if [[ ! -s $out/results.json || ! -s $out/exit_status ]]; then
      echo "FAIL: no reports in $out (the run step failed)"
      exit 1
    fi
    python3 - "$out/results.json" "$(cat "$out/exit_status")" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
bad = [c for c in run["cases"] if c["status"] not in ("PASS", "SKIP")]
for c in bad:
    first = (c.get("reason") or "").splitlines()
    print("FAIL: %s is %s: %s" % (c["id"], c["status"], first[0] if first else ""))
status = int(sys.argv[2])
if status != 0:
    print("FAIL: netns-conform run exited %d" % status)
s = run["summary"]
print("%d cases: %d passed, %d skipped, %d not PASS/SKIP" % (s["total"], s["passed"], s["skipped"],
                                                            len(bad)))
sys.exit(1 if bad or status != 0 else 0)
PY
    ;;
  *) usage ;;
esac
