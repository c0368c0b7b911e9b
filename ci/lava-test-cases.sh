#!/bin/bash
# Reports every case of a results.json to LAVA: one `lava-test-case NAME --result RESULT` call
# per case, in the file's order. Where lava-test-case is not on PATH (outside a LAVA job), prints
# the calls it would make instead, one per line.
#
# usage: ci/lava-test-cases.sh RESULTS.json
#   NAME    the case id (Suite.Case), and for `netns-conform tools` runs the id, a dot and the
#           tool; characters LAVA does not take in a name ([^A-Za-z0-9._-]) become '_'
#   RESULT  PASS -> pass, SKIP -> skip, FAIL/ERROR/TIMEOUT -> fail, MISS -> unknown (the case
#           never reached a verdict: the run was interrupted), XFAIL (a known kernel bug, `run
#           --expect`) -> skip as in junit.xml (LAVA has no expected failure), XPASS -> pass
# Exit status: 0 when every call was made (the cases' verdicts are LAVA's to judge), 1 when a
# call failed, 2 when RESULTS.json cannot be read.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 RESULTS.json" >&2
  exit 2
fi
calls=$(python3 - "$1" <<'PY'
import json
import re
import sys

RESULTS = {"PASS": "pass", "SKIP": "skip", "FAIL": "fail", "ERROR": "fail",
           "TIMEOUT": "fail", "MISS": "unknown", "XFAIL": "skip", "XPASS": "pass"}
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    cases = doc["cases"]
except (OSError, ValueError, KeyError, TypeError) as e:
    sys.exit("lava-test-cases: %s: %s" % (sys.argv[1], e))
for case in cases:
    name = case["id"] + ("." + case["tool"] if case.get("tool") else "")
    print("%s %s" % (re.sub(r"[^A-Za-z0-9._-]", "_", name),
                     RESULTS.get(case["status"], "unknown")))
PY
) || exit 2

status=0
while read -r name result; do
  [[ -n $name ]] || continue
  if command -v lava-test-case >/dev/null; then
    lava-test-case "$name" --result "$result" || status=1
  else
    echo "lava-test-case $name --result $result"
  fi
done <<<"$calls"
exit "$status"
