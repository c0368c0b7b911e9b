#!/bin/bash
# KTAP (reports/ktap_report.h) read by the kernel's own parser: every results.json given is
# converted, then tools/testing/kunit/kunit_parser.py from Debian's linux-source-6.1 parses it.
# The parser must report no error and count passed = PASS + XFAIL + XPASS (an expected failure is
# "ok ... # XFAIL", as kselftest writes it, which the parser counts as passed), failed = FAIL +
# ERROR + TIMEOUT + MISS, skipped = SKIP, crashed = 0 (the results.json summary), with every case
# under its suite with its own status; and every XFAIL's result line carries the XFAIL directive. A hostile variant of the first file (tests/report_fixtures.py) is checked too:
# reasons holding KTAP lines and the console markers on which the parser stops.
#
# usage: ktap_report_test.sh CONVERT_REPORTS WORK_DIR RESULTS_JSON...
#   CONVERT_REPORTS is tests/convert_reports; the parser is extracted into WORK_DIR from
#   /usr/src/linux-source-6.1.tar.xz (package linux-source-6.1; LINUX_SOURCE_TARBALL overrides).
# Exit 0 when every check passes, 1 when one fails, 2 on a usage error.
set -euo pipefail

if [[ $# -lt 3 || ! -x $1 ]]; then
  echo "usage: $0 CONVERT_REPORTS WORK_DIR RESULTS_JSON..." >&2
  exit 2
fi
convert=$1
work=$2
shift 2
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
if [[ ! -r $tarball ]]; then
  echo "ktap_report_test: $tarball is missing (install linux-source-6.1: .ci/install-deps)" >&2
  exit 1
fi

rm -rf "$work"
mkdir -p "$work/kunit"
tar -xJf "$tarball" -C "$work/kunit" --wildcards '*/tools/testing/kunit/*.py'
kunit_dir=$(dirname "$(find "$work/kunit" -path '*/tools/testing/kunit/kunit_parser.py' | head -1)")
if [[ ! -r $kunit_dir/kunit_parser.py ]]; then
  echo "ktap_report_test: no tools/testing/kunit/kunit_parser.py in $tarball" >&2
  exit 1
fi

inputs=("$@")
"$python" "$script_dir/report_fixtures.py" hostile "$1" "$work/hostile.json"
inputs+=("$work/hostile.json")

failures=0
for results in "${inputs[@]}"; do
  name=$(basename "$(dirname "$results")")-$(basename "$results" .json)
  ktap=$work/$name.ktap
  if ! "$convert" ktap "$results" >"$ktap"; then
    echo "FAIL: $results: convert_reports ktap failed"
    failures=$((failures + 1))
    continue
  fi
  if "$python" - "$kunit_dir" "$results" "$ktap" >"$work/$name.parser.txt" 2>&1 <<'EOF'; then
import json
import sys

kunit_dir, results_path, ktap_path = sys.argv[1:4]
sys.path.insert(0, kunit_dir)
import kunit_parser  # noqa: E402  (the kernel's own, from linux-source)

with open(results_path, encoding="utf-8") as f:
    results = json.load(f)
# As kunit.py's "parse" command reads a file.
with open(ktap_path, "r", errors="backslashreplace") as f:
    lines = f.read().splitlines()
test = kunit_parser.parse_run_tests(lines)

problems = []
summary = results["summary"]
expected = {
    "passed": summary["passed"] + summary.get("xfailed", 0) + summary.get("xpassed", 0),
    "failed": summary["failed"] + summary["errors"] + summary["timeouts"] + summary["missed"],
    "skipped": summary["skipped"],
    "crashed": 0,
    "errors": 0,
}
for key, value in expected.items():
    got = getattr(test.counts, key)
    if got != value:
        problems.append(f"kunit_parser counts {key}={got}, results.json gives {value}")

# Every case under its suite (and tool), in order, with its status.
Status = kunit_parser.TestStatus
want_status = {"PASS": Status.SUCCESS, "SKIP": Status.SKIPPED, "XFAIL": Status.SUCCESS,
               "XPASS": Status.SUCCESS}
wanted = []
for c in results["cases"]:
    suite, _, case = c["id"].partition(".")
    suite += "/" + c["tool"] if c.get("tool") else ""
    wanted.append((suite, case or suite, want_status.get(c["status"], Status.FAILURE)))
parsed = [(s.name, t.name, t.status) for s in test.subtests for t in s.subtests]
if sorted(parsed, key=str) != sorted(wanted, key=str):
    missing = [w for w in wanted if w not in parsed][:5]
    extra = [p for p in parsed if p not in wanted][:5]
    problems.append(f"cases differ: missing {missing}, unexpected {extra}")
suites = {w[0] for w in wanted}
if len(test.subtests) != len(suites):
    problems.append(f"{len(test.subtests)} suites parsed, results.json has {len(suites)}")
for suite in test.subtests:
    leaves = {t.status for t in suite.subtests}
    want = (Status.SKIPPED if leaves == {Status.SKIPPED} else
            Status.FAILURE if Status.FAILURE in leaves else Status.SUCCESS)
    if suite.status != want:
        problems.append(f"suite {suite.name} is {suite.status}, its cases give {want}")
# The parser ignores the XFAIL directive; a reader of the KTAP must still see it.
xfails = sum(1 for c in results["cases"] if c["status"] == "XFAIL")
directives = sum(1 for line in lines if " # XFAIL " in line and line.lstrip().startswith("ok "))
if directives != xfails:
    problems.append(f"{directives} result lines with '# XFAIL', results.json has {xfails} XFAIL")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"kunit_parser: {test.counts}")
EOF
    echo "PASS: $results: $(tail -1 "$work/$name.parser.txt")"
  else
    echo "FAIL: $results (KTAP in $ktap, parser output in $work/$name.parser.txt):"
    grep -v '^\[' "$work/$name.parser.txt" | head -20 | sed 's/^/  /'
    grep -F '[ERROR]' "$work/$name.parser.txt" | head -10 | sed 's/^/  /'
    failures=$((failures + 1))
  fi
done

if [[ $failures -gt 0 ]]; then
  echo "ktap_report_test: $failures of ${#inputs[@]} files failed"
  exit 1
fi
echo "ktap_report_test: all ${#inputs[@]} files parsed with matching counts"
