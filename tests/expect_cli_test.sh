#!/bin/bash
# The command-line contract of `--expect FILE` (expected results, reports/expectations.h):
#   - run: a failure an expectation names is XFAIL and the run exits 0 (1 without the file, or
#     when reason_contains, the release or a feature does not match); a PASS it names is XPASS
#     with a "stale expectation" line; reports valid against results.schema.json (version 2),
#     junit.xml showing the XFAIL as a skip; the shipped suites/known-kernel-deviations.json is
#     accepted by the real suite and valid against reports/expectations.schema.json;
#   - report convert/diff --expect: applied before converting, to both runs before diffing (an
#     XFAIL is no regression, an XPASS a status change); report merge keeps XFAIL as it is;
#   - tools and matrix pass them on;
#   - every bad file (bad JSON, truncated, unknown field, missing field, bad status, a glob that
#     matches no case, an unknown feature, a missing file) exits 2 with one line on stderr naming
#     the file, nothing on stdout and nothing written; the schema refuses the same files.
#
# usage: expect_cli_test.sh BIN_FOLDER SOURCE_FOLDER   (BIN_FOLDER holds netns-conform, the suite
#                                                       and the fault suite; must run as root)
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 2 || ! -x $1/netns-conform || ! -d $2/reports ]]; then
  echo "usage: $0 BIN_FOLDER SOURCE_FOLDER" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "expect_cli_test: must run as root (the runs create namespaces)" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
runner=$bin/netns-conform
fault=$bin/netns-conform-fault-suite
script_dir=$src/tests
shipped=$src/suites/known-kernel-deviations.json
schema=$src/reports/expectations.schema.json
work=$(mktemp -d /tmp/expect-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# shellcheck source=checks.sh
source "$script_dir/checks.sh"

release=$(uname -r)
fail_marker="fault-suite: deliberate failure 7f3e"
# The fault suite's cases this test runs: one that fails, one that passes, one that skips.
fault_run=(run --suite-binary "$fault" --timeout 10 -j 2 --filter Fault.FailsWithMessage
  --filter Fault.PassAfterLeavingVeth --filter Fault.Skips)

# expectations FILE ENTRY_JSON...: an expectations file holding the entries.
expectations() {
  local file=$1
  shift
  python3 - "$file" "$@" <<'EOF'
import json, sys
entries = [json.loads(e) for e in sys.argv[2:]]
json.dump({"expectations_version": 1, "about": "expect_cli_test", "expectations": entries},
          open(sys.argv[1], "w"), indent=1)
EOF
}
xfail_entry() {  # xfail_entry [KERNELS_JSON [REASON_CONTAINS]]
  printf '{"case": "Fault.FailsWith*", "status": "FAIL", "reason": "fails on purpose", %s
           "reason_contains": "%s", "link": "https://bugs.example/fault/1"}' \
    "${1:+\"kernels\": $1,}" "${2:-$fail_marker}"
}

# status_of RESULTS CASE: the case's status in a results.json.
status_of() {
  python3 -c 'import json, sys
print(next(c["status"] for c in json.load(open(sys.argv[1]))["cases"] if c["id"] == sys.argv[2]))' \
    "$1" "$2"
}

# --- run --------------------------------------------------------------------------------------
rc=0
"$runner" "${fault_run[@]}" --out plain >/dev/null 2>plain.err || rc=$?
[[ $rc -eq 1 && $(status_of plain/results.json Fault.FailsWithMessage) == FAIL ]] &&
  pass "run without --expect: the failure FAILs, exit 1" || fail "run without --expect: exit $rc"

expectations xfail.json "$(xfail_entry "{\"release\": [\"$release\", \"0.0.*\"]}")"
rc=0
"$runner" "${fault_run[@]}" --expect xfail.json --out xfail >/dev/null 2>xfail.err || rc=$?
if [[ $rc -eq 0 && $(status_of xfail/results.json Fault.FailsWithMessage) == XFAIL ]] &&
  grep -q '1 expected failure (XFAIL)' xfail.err && ! grep -q 'stale expectation' xfail.err; then
  pass "run --expect: the expected failure is XFAIL, exit 0: $(grep -F 'expected failure' xfail.err)"
else
  fail "run --expect: exit $rc: $(tail -3 xfail.err)"
fi
python3 - xfail/results.json "$fail_marker" <<'EOF' && pass "XFAIL keeps its reason, gets its expectation, counted apart; clause verdict XFAIL; features recorded" || fail "XFAIL record"
import json, sys
run = json.load(open(sys.argv[1]))
case = next(c for c in run["cases"] if c["id"] == "Fault.FailsWithMessage")
assert sys.argv[2] in case["reason"], case
assert case["expectation"] == {"status": "FAIL", "reason": "fails on purpose",
                               "link": "https://bugs.example/fault/1"}, case
assert run["summary"]["xfailed"] == 1 and run["summary"]["failed"] == 0, run["summary"]
assert run["schema_version"] == 2
verdict = next(v for v in run["clauses"] if v["id"] == "test.fault.fail")
assert verdict["status"] == "XFAIL", verdict
assert run["environment"]["features"]["net_ns"] is True, run["environment"]
EOF
bash "$script_dir/validate_reports.sh" xfail >validate.out 2>&1 &&
  pass "run --expect: reports valid against results.schema.json v2, JUnit counts agree" ||
  fail "run --expect: reports invalid: $(cat validate.out)"
grep -q '<skipped message="expected failure: fails on purpose (https://bugs.example/fault/1)"/>' \
  xfail/junit.xml && pass "junit.xml: the XFAIL is a skipped test naming the expectation" ||
  fail "junit.xml has no expected-failure skip"

# An expectation that does not apply leaves the failure a failure.
for variant in "reason_contains:$(xfail_entry '' 'some other failure')" \
  "release:$(xfail_entry '{"release": ["0.0.*"]}')" \
  "feature:$(xfail_entry '{"features": {"net_ns": false}}')" \
  "release and features, one false here:$(xfail_entry "{\"release\": [\"$release\"], \"features\": {\"net_ns\": true, \"netdevsim\": true}}")"; do
  name=${variant%%:*}
  expectations not.json "${variant#*:}"
  rc=0
  "$runner" "${fault_run[@]}" --expect not.json --out not >/dev/null 2>&1 || rc=$?
  # The last variant: both parts must hold, and netdevsim is false where the suite's tests run.
  [[ $rc -eq 1 && $(status_of not/results.json Fault.FailsWithMessage) == FAIL ]] &&
    pass "run --expect whose $name does not match: FAIL stays, exit 1" ||
    fail "run --expect whose $name does not match: exit $rc, $(status_of not/results.json Fault.FailsWithMessage)"
done
expectations feature.json "$(xfail_entry '{"features": {"net_ns": true}}')"
rc=0
"$runner" "${fault_run[@]}" --expect feature.json --out feature >/dev/null 2>&1 || rc=$?
[[ $rc -eq 0 && $(status_of feature/results.json Fault.FailsWithMessage) == XFAIL ]] &&
  pass "run --expect with a feature that holds: XFAIL, exit 0" || fail "feature condition: exit $rc"

# A PASS an expectation names: XPASS, the run still exits 0 and names the stale entry.
expectations stale.json "$(xfail_entry)" \
  '{"case": "Fault.PassAfterLeavingVeth", "status": "FAIL", "reason": "was broken", "link": "https://bugs.example/fault/2"}'
rc=0
"$runner" "${fault_run[@]}" --expect stale.json --out stale >/dev/null 2>stale.err || rc=$?
if [[ $rc -eq 0 && $(status_of stale/results.json Fault.PassAfterLeavingVeth) == XPASS ]] &&
  grep -q '^netns-conform: stale expectation: Fault.PassAfterLeavingVeth passed on kernel .* (https://bugs.example/fault/2)' stale.err &&
  grep -q '1 unexpected pass (XPASS)' stale.err; then
  pass "run --expect on a passing case: XPASS, exit 0, $(grep -c 'stale expectation' stale.err) stale line"
else
  fail "XPASS: exit $rc: $(tail -3 stale.err)"
fi
bash "$script_dir/validate_reports.sh" stale >validate.out 2>&1 && pass "XPASS reports valid" ||
  fail "XPASS reports invalid: $(cat validate.out)"

# Files are checked against the suite's whole listing: --filter does not make an entry for an
# unfiltered case a bad one, and several files add up.
expectations other.json '{"case": "Fault.Segfaults", "status": "ERROR", "reason": "crashes", "link": "https://bugs.example/3"}'
rc=0
"$runner" "${fault_run[@]}" --expect other.json --expect xfail.json --out two >/dev/null 2>&1 || rc=$?
[[ $rc -eq 0 ]] && pass "two --expect files, one naming a case --filter leaves out: exit 0" ||
  fail "two --expect files: exit $rc"

# The shipped file: valid against its schema, accepted by the real suite (its glob names a case of
# the listing). This kernel is not one it names, so the case is judged as without it.
python3 - "$schema" "$shipped" <<'EOF' && pass "suites/known-kernel-deviations.json is valid against reports/expectations.schema.json" || fail "shipped file invalid"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
jsonschema.Draft7Validator(schema).validate(json.load(open(sys.argv[2])))
EOF
rc=0
"$runner" run --filter 'VethPair.PeerInNetns*' --expect "$shipped" --out shipped >/dev/null \
  2>shipped.err || rc=$?
shipped_status=$(status_of shipped/results.json VethPair.PeerInNetnsWithoutCapNetAdminIsEperm)
case $release in
  6.1.0-* | 6.12.*+deb12-*) want='^(XFAIL|XPASS)$' ;;
  *) want='^(PASS|FAIL)$' ;;
esac
[[ $rc -ne 2 && $shipped_status =~ $want ]] &&
  pass "run --expect suites/known-kernel-deviations.json on $release: exit $rc, $shipped_status" ||
  fail "run with the shipped file: exit $rc, $shipped_status: $(tail -2 shipped.err)"
[[ -s $bin/known-kernel-deviations.json ]] && cmp -s "$bin/known-kernel-deviations.json" "$shipped" &&
  pass "the shipped file is installed beside the runner" ||
  fail "$bin/known-kernel-deviations.json is missing or differs from $shipped"

# --- bad files --------------------------------------------------------------------------------
# expect_refused NAME WORD FILE COMMAND...: exit 2, one stderr line naming FILE and WORD, no
# stdout, no out/ written.
expect_refused() {
  local name=$1 word=$2 file=$3
  shift 3
  expect_refusal "$name" "netns-conform: $file: " "$word" "$@"
}

good='{"case": "Fault.FailsWithMessage", "status": "FAIL", "reason": "r", "link": "https://x.example/1"}'
printf '{"expectations_version": 1, "expectations": [%s' "$good" >truncated.json
printf '{"expectations_version": 1, "expectations": [%s,, ]}' "$good" >invalid.json
expectations unknown-field.json '{"case": "Fault.FailsWithMessage", "status": "FAIL", "reason": "r", "link": "https://x.example/1", "kernel": {"release": ["6.1.0-*"]}}'
expectations unknown-kernel-field.json '{"case": "Fault.FailsWithMessage", "status": "FAIL", "reason": "r", "link": "https://x.example/1", "kernels": {"releases": ["6.1.0-*"]}}'
expectations no-reason.json '{"case": "Fault.FailsWithMessage", "status": "FAIL", "link": "https://x.example/1"}'
expectations no-link.json '{"case": "Fault.FailsWithMessage", "status": "FAIL", "reason": "r"}'
expectations bad-status.json '{"case": "Fault.FailsWithMessage", "status": "SKIP", "reason": "r", "link": "https://x.example/1"}'
expectations bad-link.json '{"case": "Fault.FailsWithMessage", "status": "FAIL", "reason": "r", "link": "CVE-2026-31692"}'
expectations no-case.json '{"case": "Fault.NoSuchCase*", "status": "FAIL", "reason": "r", "link": "https://x.example/1"}'
expectations unknown-feature.json '{"case": "Fault.FailsWithMessage", "status": "FAIL", "reason": "r", "link": "https://x.example/1", "kernels": {"features": {"nsfs_handles": true}}}'
python3 -c 'import json; json.dump({"expectations_version": 1, "expectations": [], "extra": 1}, open("unknown-top.json", "w"))'
bad_files=(
  "truncated JSON:truncated.json:truncated JSON"
  "invalid JSON:invalid.json:invalid JSON"
  "an unknown field:unknown-field.json:unknown field \"kernel\""
  "an unknown field in kernels:unknown-kernel-field.json:unknown field \"releases\""
  "an unknown top-level field:unknown-top.json:unknown field \"extra\""
  "no reason:no-reason.json:missing field \"reason\""
  "no link:no-link.json:missing field \"link\""
  "a bad status:bad-status.json:expected \"FAIL\", \"ERROR\" or \"TIMEOUT\""
  "a link that is no URL:bad-link.json:expected an http(s) URL"
  "a glob matching no case:no-case.json:matches no case of the suite's listing"
  "an unknown feature:unknown-feature.json:unknown feature \"nsfs_handles\""
  "a missing file:missing.json:cannot open"
)
for entry in "${bad_files[@]}"; do
  IFS=: read -r what file word <<<"$entry"
  expect_refused "run --expect with $what" "$word" "$file" \
    "$runner" "${fault_run[@]}" --expect xfail.json --expect "$file" --out out
done
# The schema refuses what it can see (not the glob, the feature name, the missing file).
python3 - "$schema" unknown-field.json unknown-kernel-field.json unknown-top.json no-reason.json \
  no-link.json bad-status.json bad-link.json <<'EOF' && pass "the schema refuses the same bad files" || fail "the schema accepts a bad file"
import json, sys
import jsonschema
validator = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
accepted = [f for f in sys.argv[2:] if validator.is_valid(json.load(open(f)))]
assert not accepted, accepted
EOF
expect_refused "matrix --expect with a glob matching no case" "matches no case" no-case.json \
  "$runner" matrix --target host --filter 'VethPair.*' --expect no-case.json --out out

# --- report convert / diff / merge ------------------------------------------------------------
for format in junit ktap kcidb html; do
  rc=0
  "$runner" report convert plain/results.json --to "$format" --expect xfail.json \
    --out converted/report."$format" 2>convert.err || rc=$?
  [[ $rc -eq 0 ]] || fail "convert --to $format --expect: exit $rc: $(cat convert.err)"
done
grep -q '^  ok [0-9]* FailsWithMessage # XFAIL fails on purpose$' converted/report.ktap &&
  grep -q '"waived": true' converted/report.kcidb &&
  grep -q 'expected failure: fails on purpose' converted/report.junit &&
  grep -q 'class="cell s-xfail"' converted/report.html &&
  pass "convert --expect: the FAIL of a run made without it is XFAIL in junit, ktap, kcidb, html" ||
  fail "convert --expect: $(grep -c XFAIL converted/report.ktap) XFAIL in ktap"
"$runner" report convert plain/results.json --to ktap >plain.ktap
grep -q '^  not ok [0-9]* FailsWithMessage$' plain.ktap && pass "convert without --expect: still not ok" ||
  fail "convert without --expect"
expect_refused "convert --expect with a glob matching no case of the results" \
  "matches no case of the results" other.json \
  "$runner" report convert plain/results.json --to ktap --expect other.json --out out/r.ktap
expect_refused "convert --expect with an unknown field" "unknown field" unknown-field.json \
  "$runner" report convert plain/results.json --to junit --expect unknown-field.json --out out/j.xml

# diff: the base ran on another (fixed) kernel, where the case passed and the one passing now
# failed; the new run fails with the marker.
python3 - plain/results.json <<'EOF'
import json, sys
base = json.load(open(sys.argv[1]))
base["environment"]["kernel_release"] = "0.0.1-base"
for c in base["cases"]:
    if c["id"] == "Fault.FailsWithMessage":
        c["status"] = "PASS"
        del c["reason"]
    if c["id"] == "Fault.PassAfterLeavingVeth":
        c["status"] = "FAIL"
        c["reason"] = "it failed back then"
base["summary"]["failed"] = sum(c["status"] == "FAIL" for c in base["cases"])
base["summary"]["passed"] = sum(c["status"] == "PASS" for c in base["cases"])
del base["clauses"]
json.dump(base, open("base.json", "w"), indent=1)
EOF
rc=0
"$runner" report diff base.json plain/results.json >diff.out 2>&1 || rc=$?
[[ $rc -eq 1 ]] && grep -q 'Fault.FailsWithMessage: PASS -> FAIL' diff.out &&
  pass "diff without --expect: the new failure is a regression, exit 1" ||
  fail "diff without --expect: exit $rc: $(cat diff.out)"
expectations diff.json "$(xfail_entry "{\"release\": [\"$release\"]}")" \
  '{"case": "Fault.PassAfterLeavingVeth", "status": "FAIL", "reason": "was broken", "reason_contains": "back then", "link": "https://bugs.example/fault/2"}'
rc=0
"$runner" report diff base.json plain/results.json --expect diff.json >diff.out 2>&1 || rc=$?
if [[ $rc -eq 0 ]] && grep -q '^0 regressions' diff.out &&
  grep -q '  Fault.FailsWithMessage: PASS -> XFAIL' diff.out &&
  grep -q '  Fault.PassAfterLeavingVeth: XFAIL -> XPASS: expected FAIL, but passed' diff.out; then
  pass "diff --expect: PASS -> XFAIL is no regression, XFAIL -> XPASS a change, exit 0"
else
  fail "diff --expect: exit $rc: $(cat diff.out)"
fi
expect_refused "diff --expect with bad JSON" "invalid JSON" invalid.json \
  "$runner" report diff base.json plain/results.json --expect invalid.json

rc=0
"$runner" report merge xfail/results.json --out merged >/dev/null 2>&1 || rc=$?
[[ $rc -eq 0 && $(status_of merged/results.json Fault.FailsWithMessage) == XFAIL ]] &&
  pass "merge keeps XFAIL (exit 0)" || fail "merge of an XFAIL run: exit $rc"

# --- tools and matrix pass it on ---------------------------------------------------------------
expectations tools.json \
  '{"case": "Tools.AddCreatesNamedNetns", "tool": "builtin-*", "status": "FAIL", "reason": "pretend", "link": "https://bugs.example/4"}' \
  "$(xfail_entry)"
rc=0
"$runner" tools --tool builtin-ref --filter Tools.AddCreatesNamedNetns --expect tools.json \
  --out tools >/dev/null 2>tools.err || rc=$?
[[ $rc -eq 0 && $(status_of tools/results.json Tools.AddCreatesNamedNetns) == XPASS ]] &&
  grep -q 'stale expectation: Tools.AddCreatesNamedNetns (tool builtin-ref)' tools.err &&
  pass "tools --expect: a tool entry applies (XPASS), a suite entry is not checked there" ||
  fail "tools --expect: exit $rc: $(tail -3 tools.err)"
expectations matrix.json \
  '{"case": "VethPair.PeerInNetnsWithoutCapNetAdminIsEperm", "status": "FAIL", "reason": "pretend", "link": "https://bugs.example/5"}'
rc=0
"$runner" matrix --target host --filter 'VethPair.PeerInNetns*' --expect matrix.json --out matrix \
  >/dev/null 2>matrix.err || rc=$?
python3 - matrix/matrix.json <<'EOF' && [[ $rc -eq 0 ]] && pass "matrix --expect: the host run got it, its cell is XPASS" || fail "matrix --expect: exit $rc: $(tail -3 matrix.err)"
import json, sys
matrix = json.load(open(sys.argv[1]))
cells = [c for row in matrix["rows"] for c in row["cells"]]
assert any(c["status"] == "XPASS" and c["expectation"]["link"] == "https://bugs.example/5"
           for c in cells), cells
assert matrix["columns"][0]["summary"]["xpassed"] == 1, matrix["columns"][0]["summary"]
EOF

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
