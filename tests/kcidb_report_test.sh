#!/bin/bash
# KCIDB (reports/kcidb_report.h) against the KCIDB v5.3 schema: every results.json given, and a
# hostile variant of the first (tests/report_fixtures.py), is converted and validated with
# python3-jsonschema's Draft7Validator with format checking on. Beyond the schema: one checkout,
# one build, one test per case with the status that case's status maps to (XFAIL to FAIL with
# misc.waived and an incident of its expectation's issue, XPASS to PASS), every id starting with
# "<origin>:", test ids unique, no null anywhere (misc included), and an origin outside
# ^[a-z0-9_]+$ refused with one line.
#
# usage: kcidb_report_test.sh CONVERT_REPORTS SCHEMA WORK_DIR RESULTS_JSON...
# Exit 0 when every check passes, 1 when one fails, 2 on a usage error.
set -euo pipefail

if [[ $# -lt 4 || ! -x $1 || ! -r $2 ]]; then
  echo "usage: $0 CONVERT_REPORTS SCHEMA WORK_DIR RESULTS_JSON..." >&2
  exit 2
fi
convert=$1
schema=$2
work=$3
shift 3
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}
rm -rf "$work"
mkdir -p "$work"

inputs=("$@")
"$python" "$script_dir/report_fixtures.py" hostile "$1" "$work/hostile.json"
inputs+=("$work/hostile.json")

failures=0
for results in "${inputs[@]}"; do
  name=$(basename "$(dirname "$results")")-$(basename "$results" .json)
  for origin in netns_conform my_lab_2; do
    out=$work/$name.$origin.kcidb.json
    if ! "$convert" kcidb "$results" "$origin" >"$out"; then
      echo "FAIL: $results: convert_reports kcidb failed"
      failures=$((failures + 1))
      continue
    fi
    if "$python" - "$schema" "$results" "$out" "$origin" <<'EOF'; then
import json
import re
import sys

import jsonschema

schema_path, results_path, kcidb_path, origin = sys.argv[1:5]
with open(schema_path, encoding="utf-8") as f:
    schema = json.load(f)
with open(results_path, encoding="utf-8") as f:
    results = json.load(f)
with open(kcidb_path, encoding="utf-8") as f:
    kcidb = json.load(f)

jsonschema.Draft7Validator.check_schema(schema)
format_checker = jsonschema.FormatChecker()
if "date-time" not in format_checker.checkers:
    sys.exit("kcidb_report_test: this jsonschema cannot check date-time "
             "(install python3-rfc3339-validator)")
validator = jsonschema.Draft7Validator(schema, format_checker=format_checker)
problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(kcidb)]


def nulls(value, where):
    if value is None:
        yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from nulls(item, f"{where}/{key}")
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from nulls(item, f"{where}/{k}")
    elif isinstance(value, str) and "\0" in value:
        yield where + " (NUL character)"


problems += [f"null at {where}" for where in nulls(kcidb, "")]
if kcidb.get("version") != {"major": 5, "minor": 3}:
    problems.append(f"version is {kcidb.get('version')}")
checkouts, builds, tests = kcidb.get("checkouts", []), kcidb.get("builds", []), kcidb.get("tests", [])
if len(checkouts) != 1 or len(builds) != 1:
    problems.append(f"{len(checkouts)} checkouts and {len(builds)} builds, expected one of each")
for kind, objects in (("checkout", checkouts), ("build", builds), ("test", tests)):
    for o in objects:
        if o.get("origin") != origin or not o.get("id", "").startswith(origin + ":"):
            problems.append(f"{kind} {o.get('id')} has origin {o.get('origin')}")
cases = results["cases"]
if len(tests) != len(cases):
    problems.append(f"{len(tests)} tests for {len(cases)} cases")
if len({t["id"] for t in tests}) != len(tests):
    problems.append("test ids are not unique")
mapping = {"PASS": "PASS", "FAIL": "FAIL", "SKIP": "SKIP", "ERROR": "ERROR", "TIMEOUT": "ERROR",
           "MISS": "MISS", "XFAIL": "FAIL", "XPASS": "PASS"}
for case, test in zip(cases, tests):
    if test["status"] != mapping[case["status"]] or test["misc"]["status"] != case["status"]:
        problems.append(f"{case['id']} is {case['status']}, its test says {test['status']}")
    if test["build_id"] != builds[0]["id"] or test["misc"]["clause"] != case["clause"]:
        problems.append(f"{case['id']}: build_id or clause wrong")
    if not re.fullmatch(r"netns_conform(\.[a-zA-Z0-9_-]+)+", test["path"]):
        problems.append(f"{case['id']}: path {test['path']!r}")
    # A known kernel bug: waived, and an incident of its expectation's issue (present for XFAIL,
    # absent for a stale XPASS).
    if (test["misc"].get("waived") is True) != (case["status"] == "XFAIL"):
        problems.append(f"{case['id']} is {case['status']}, misc.waived is {test['misc'].get('waived')}")
    if case["status"] in ("XFAIL", "XPASS"):
        incidents = [i for i in kcidb.get("incidents", []) if i.get("test_id") == test["id"]]
        issues = {i["id"]: i for i in kcidb.get("issues", [])}
        if len(incidents) != 1 or incidents[0]["present"] != (case["status"] == "XFAIL"):
            problems.append(f"{case['id']}: incidents {incidents}")
        elif issues.get(incidents[0]["issue_id"], {}).get("report_url") != case["expectation"]["link"]:
            problems.append(f"{case['id']}: its issue does not link {case['expectation']['link']}")
if problems:
    print(f"{kcidb_path}:\n  " + "\n  ".join(problems[:20]))
    sys.exit(1)
print(f"{kcidb_path}: valid KCIDB 5.3, {len(tests)} tests")
EOF
      echo "PASS: $results (origin $origin)"
    else
      echo "FAIL: $results (origin $origin)"
      failures=$((failures + 1))
    fi
  done
  # The same input converts to the same ids: KCIDB merges by id, so a re-submission must not
  # duplicate the run.
  if ! cmp -s <("$convert" kcidb "$results") <("$convert" kcidb "$results"); then
    echo "FAIL: $results: two conversions differ"
    failures=$((failures + 1))
  fi
done

# A bad origin: exit 1 with one line naming it, nothing on stdout.
for origin in 'Bad-Origin' '' $'two\nlines'; do
  rc=0
  "$convert" kcidb "${inputs[0]}" "$origin" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
  if [[ $rc -eq 1 && ! -s $work/bad.out && $(wc -l <"$work/bad.err") -eq 1 ]] &&
    grep -qF 'origin' "$work/bad.err"; then
    echo "PASS: origin ${origin@Q} refused: $(cat "$work/bad.err")"
  else
    echo "FAIL: origin ${origin@Q}: exit $rc, stderr $(head -c 300 "$work/bad.err")"
    failures=$((failures + 1))
  fi
done

if [[ $failures -gt 0 ]]; then
  echo "kcidb_report_test: $failures checks failed"
  exit 1
fi
echo "kcidb_report_test: all checks passed"
