#!/bin/bash
# The contract of `netns-conform clauses`:
#   - the table has one row per conformance document of the embedded catalogue plus a total, and
#     its counts equal those of `clauses --json`;
#   - `--uncovered` lists exactly the clauses of suites/clauses_pending.txt (the allowlist of
#     clauses still without a case), each with its text;
#   - a suite whose cases name clauses that are not conformance clauses (the fault suite names
#     the project-internal ones) leaves every count but "covered" as it was, and exits 0;
#   - bad input exits 2 with one line on stderr and nothing on stdout.
#
# usage: clauses_cli_test.sh BIN_FOLDER PENDING_FILE
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 2 || ! -d $1 || ! -r $2 ]]; then
  echo "usage: $0 BIN_FOLDER PENDING_FILE" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
pending=$2
runner=$bin/netns-conform
fault=$bin/netns-conform-fault-suite
work=$(mktemp -d /tmp/clauses-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# run NAME EXPECTED_RC ARGS...: runs the runner, output in $work/NAME.{out,err}.
run() {
  local name=$1 expected=$2 rc=0
  shift 2
  "$runner" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
  if [[ $rc -ne $expected ]]; then
    fail "$name: exit status $rc, expected $expected: $(head -c 400 "$work/$name.err")"
    return 1
  fi
}

if run text 0 clauses && run json 0 clauses --json && run uncovered 0 clauses --uncovered &&
  run uncovered-json 0 clauses --uncovered --json; then
  if python3 - "$work" "$pending" <<'PYEOF'; then
import json
import re
import sys

work, pending_path = sys.argv[1], sys.argv[2]
problems = []
data = json.load(open(f"{work}/json.out", encoding="utf-8"))
full = json.load(open(f"{work}/uncovered-json.out", encoding="utf-8"))
text = open(f"{work}/text.out", encoding="utf-8").read().splitlines()

documents = [d for d in data["documents"] if not d["internal"]]
if [d["id"] for d in documents] != ["netns7", "netns7-5.10", "ipnetns8", "clone2", "sem"]:
    problems.append(f"documents {[d['id'] for d in documents]}")
rows = {}
for line in text:
    m = re.match(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)(\s.*)?$", line)
    if m:
        rows[m.group(1)] = [int(m.group(i)) for i in range(2, 6)]
for d in documents + [dict(id="total", **data["total"])]:
    want = [d["covered"], d["untestable"], d["uncovered"], d["total"]]
    if rows.get(d["id"]) != want:
        problems.append(f"text row {d['id']}: {rows.get(d['id'])}, JSON gives {want}")
    if sum(want[:3]) != want[3]:
        problems.append(f"{d['id']}: counts do not add up: {want}")
if data["unknown_clauses"] or data["untestable_but_covered"]:
    problems.append(f"defects: {data['unknown_clauses']} {data['untestable_but_covered']}")
if data["total"]["covered"] == 0:
    problems.append("the suite covers no clause")

pending = set()
for line in open(pending_path, encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if line:
        pending.add(line)
listed = [c["id"] for d in full["documents"] if not d["internal"] for c in d["uncovered_clauses"]]
if sorted(listed) != sorted(pending):
    problems.append(f"--uncovered --json lists {len(listed)} clauses, clauses_pending.txt "
                    f"{len(pending)}: differing {sorted(set(listed) ^ pending)[:5]}")
if any(not c["text"] or not c["section"] for d in full["documents"] for c in d["uncovered_clauses"]):
    problems.append("an uncovered clause without text or section")
uncovered_text = open(f"{work}/uncovered.out", encoding="utf-8").read()
missing = [i for i in pending if f"\n{i}  [" not in uncovered_text]
if missing:
    problems.append(f"--uncovered text lacks {missing[:5]}")
if "\nuncovered clauses" in open(f"{work}/text.out", encoding="utf-8").read():
    problems.append("the list of uncovered clauses is printed without --uncovered")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
PYEOF
    pass "clauses: table equals --json, --uncovered lists exactly clauses_pending.txt"
  else
    fail "clauses output"
  fi
fi

if run fault 0 clauses --json --suite-binary "$fault"; then
  if python3 - "$work/fault.out" "$work/json.out" <<'PYEOF'; then
import json
import sys

fault = json.load(open(sys.argv[1], encoding="utf-8"))
real = json.load(open(sys.argv[2], encoding="utf-8"))
internal = [d for d in fault["documents"] if d["internal"]]
ok = (fault["total"]["covered"] == 0
      and fault["total"]["untestable"] == real["total"]["untestable"]
      and fault["total"]["total"] == real["total"]["total"]
      and len(internal) == 1 and internal[0]["uncovered"] == 0
      and not fault["unknown_clauses"])
sys.exit(0 if ok else f"fault suite coverage: {fault['total']}, internal: {internal}")
PYEOF
    pass "clauses --suite-binary fault-suite: only project-internal clauses covered, not counted"
  else
    fail "clauses --suite-binary fault-suite"
  fi
fi

# bad input: exit 2, one line on stderr naming the problem, nothing on stdout
check_dir=$work
expect_usage_error() {
  local name=$1 word=$2
  shift 2
  expect_refusal_keeping "$work/bad-out" "$name" "" "$word" "$runner" "$@"
}
expect_usage_error "unknown option" "--no-such-option" clauses --no-such-option
expect_usage_error "an argument" "extra" clauses extra
expect_usage_error "missing --suite-binary" "$work/no-such-suite" \
  clauses --suite-binary "$work/no-such-suite"

if [[ $failures -ne 0 ]]; then
  echo "clauses_cli_test: $failures check(s) failed"
  exit 1
fi
echo "clauses_cli_test: all checks passed"
