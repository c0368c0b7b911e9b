#!/bin/bash
# The command-line contract of `netns-conform report merge|diff|convert` on hand-made
# results.json files:
#   - merge: shards become one valid results.json + junit.xml with logs that still resolve, exit 1
#     when a merged case failed; missing shards refused unless --allow-partial;
#   - diff: exit 1 on a regression, 0 otherwise; --json;
#   - convert: every format to stdout and atomically to a file;
#   - bad input (another schema version, truncated JSON, overlapping shards, runs of different
#     kernels, unrelated suites, a missing or unreadable file, an unknown --to format, --origin
#     without kcidb) exits 2 with one line on stderr, nothing on stdout and nothing written.
#
# usage: report_cli_test.sh BIN_FOLDER   (holds netns-conform)
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 1 || ! -x $1/netns-conform ]]; then
  echo "usage: $0 BIN_FOLDER (holding netns-conform)" >&2
  exit 2
fi
runner=$(cd "$1" && pwd)/netns-conform
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d /tmp/report-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# shellcheck source=checks.sh
source "$script_dir/checks.sh"

# make_run FOLDER SHARD(K/N or -) CASE=STATUS... [env KEY=VALUE via RUN_ENV]
# Writes FOLDER/results.json (schema version 1: readers still accept it) and a log per case in
# FOLDER/logs/.
make_run() {
  local folder=$1 shard=$2
  shift 2
  mkdir -p "$folder/logs"
  python3 - "$folder" "$shard" "${RUN_ENV:-}" "$@" <<'EOF'
import json, sys
folder, shard, env_text, specs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
env = {"kernel_release": "6.1.0-test", "kernel_config_source": "/proc/config.gz",
       "sandbox": "inplace", "runner_version": "0.1.0", "hostname": "ci",
       "start_time": "2026-01-01T00:00:00Z", "target": "host", "suite": "suite"}
for pair in filter(None, env_text.split(",")):
    key, value = pair.split("=", 1)
    env[key] = value
if shard != "-":
    index, count = shard.split("/")
    env["shard"] = {"index": int(index), "count": int(count)}
cases, counts = [], {"PASS": 0, "FAIL": 0, "SKIP": 0, "ERROR": 0, "TIMEOUT": 0, "MISS": 0}
for spec in specs:
    case_id, status = spec.split("=")
    case = {"id": case_id, "clause": "netns7.test", "status": status, "duration_s": 0.1,
            "log": "logs/%s.log" % case_id}
    if status != "PASS":
        case["reason"] = "%s because of %s" % (status, case_id)
    open("%s/logs/%s.log" % (folder, case_id), "w").write("log of %s\n" % case_id)
    cases.append(case)
    counts[status] += 1
summary = {"total": len(cases), "passed": counts["PASS"], "failed": counts["FAIL"],
           "skipped": counts["SKIP"], "errors": counts["ERROR"], "timeouts": counts["TIMEOUT"],
           "missed": counts["MISS"], "duration_s": 1.5}
doc = {"schema_version": 1, "environment": env, "summary": summary, "cases": cases}
json.dump(doc, open(folder + "/results.json", "w"), indent=2)
EOF
}

# expect_usage_error NAME WORD COMMAND...: exit 2, one stderr line containing WORD, no stdout,
# and no out/ folder written.
expect_usage_error() {
  local name=$1 word=$2
  shift 2
  expect_refusal "$name" "netns-conform: " "$word" "$@"
}

# --- merge ------------------------------------------------------------------------------------
make_run s1 1/2 B.Two=PASS A.One=SKIP
make_run s2 2/2 C.Three=PASS
make_run unsharded - A.One=SKIP B.Two=PASS C.Three=PASS
rc=0
"$runner" report merge s2/results.json s1/results.json --out merged/all >stdout 2>stderr || rc=$?
if [[ $rc -eq 0 && ! -s stderr ]] && bash "$script_dir/validate_reports.sh" merged/all >/dev/null; then
  pass "merge of 2/2 shards: exit 0, valid reports"
else
  fail "merge of 2/2 shards: exit $rc, stderr $(cat stderr)"
fi
python3 - merged/all unsharded <<'EOF' && pass "merge equals the unsharded run, sorted by id, logs resolve from the output folder" || fail "merged cases"
import json, os, sys
merged_dir, unsharded_dir = sys.argv[1], sys.argv[2]
merged = json.load(open(merged_dir + "/results.json"))
unsharded = json.load(open(unsharded_dir + "/results.json"))
pairs = lambda doc: sorted((c["id"], c["status"]) for c in doc["cases"])
assert pairs(merged) == pairs(unsharded), (pairs(merged), pairs(unsharded))
ids = [c["id"] for c in merged["cases"]]
assert ids == sorted(ids), ids
assert "shard" not in merged["environment"], merged["environment"]
for case in merged["cases"]:
    path = os.path.join(merged_dir, case["log"])
    assert open(path).read() == "log of %s\n" % case["id"], path
EOF

make_run f1 1/2 A.One=FAIL
make_run f2 2/2 B.Two=PASS
rc=0
"$runner" report merge f1/results.json f2/results.json --out merged/failing >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] && pass "merge with a failed case: exit 1" || fail "merge with a failed case: exit $rc"

make_run p1 1/3 A.One=PASS
make_run p3 3/3 C.Three=PASS
expect_usage_error "merge with a shard missing" "shard 2/3 missing" \
  "$runner" report merge p1/results.json p3/results.json --out out
rc=0
"$runner" report merge p1/results.json p3/results.json --out merged/partial --allow-partial \
  >stdout 2>stderr || rc=$?
if [[ $rc -eq 0 ]] && grep -q 'shards missing: 2/3' stderr && [[ -s merged/partial/results.json ]]; then
  pass "merge --allow-partial: exit 0, warns '$(cat stderr)'"
else
  fail "merge --allow-partial: exit $rc, stderr $(cat stderr)"
fi

shard_before=$(sha256sum <s1/results.json)
expect_usage_error "merge into a shard's own folder" "would overwrite the input s1/results.json" \
  "$runner" report merge s1/results.json s2/results.json --out ./s1/
[[ $(sha256sum <s1/results.json) == "$shard_before" ]] ||
  fail "merge into a shard's own folder changed s1/results.json"
make_run dup 1/2 D.Four=PASS
expect_usage_error "merge of overlapping shards" "shard 1/2 is in both s1/results.json and dup/results.json" \
  "$runner" report merge s1/results.json dup/results.json --out out
make_run dupcase 2/2 A.One=PASS
expect_usage_error "merge of shards sharing a case" "case A.One is in both s1/results.json and dupcase/results.json" \
  "$runner" report merge s1/results.json dupcase/results.json --out out
RUN_ENV=kernel_release=6.12.0-test make_run otherkernel 2/2 C.Three=PASS
expect_usage_error "merge of runs of different kernels" "environment.kernel_release" \
  "$runner" report merge s1/results.json otherkernel/results.json --out out

# --- bad files, for every subcommand ------------------------------------------------------------
make_run v3 - A.One=PASS
sed -i 's/"schema_version": 1/"schema_version": 3/' v3/results.json
make_run truncated - A.One=PASS B.Two=PASS
head -c 200 unsharded/results.json >truncated/results.json
mkdir -p unreadable/results.json  # a folder: opens, cannot be read (root reads any mode bits)
for sub in merge diff convert; do
  case $sub in
    merge) args=(--out out) ;;
    diff) args=(unsharded/results.json) ;;
    convert) args=(--to junit --out out/junit.xml) ;;
  esac
  expect_usage_error "$sub: another schema version" "v3/results.json: " \
    "$runner" report "$sub" v3/results.json "${args[@]}"
  expect_usage_error "$sub: truncated JSON" "truncated/results.json: truncated JSON" \
    "$runner" report "$sub" truncated/results.json "${args[@]}"
  expect_usage_error "$sub: missing file" "missing/results.json: cannot open" \
    "$runner" report "$sub" missing/results.json "${args[@]}"
  expect_usage_error "$sub: unreadable file" "unreadable/results.json: cannot read" \
    "$runner" report "$sub" unreadable/results.json "${args[@]}"
done

# --- diff -------------------------------------------------------------------------------------
make_run base - A.One=PASS B.Two=FAIL C.Three=SKIP D.Four=PASS
make_run fixed - A.One=PASS B.Two=PASS C.Three=SKIP D.Four=SKIP E.Five=FAIL
make_run regressed - A.One=FAIL B.Two=FAIL C.Three=TIMEOUT
rc=0
"$runner" report diff base/results.json fixed/results.json >stdout 2>stderr || rc=$?
if [[ $rc -eq 0 ]] && grep -q '^0 regressions, 1 fix, 1 other change, 1 new case, 0 vanished cases$' stdout &&
  grep -q '^  B.Two: FAIL -> PASS$' stdout && grep -q '^  E.Five: FAIL: FAIL because of E.Five$' stdout; then
  pass "diff without regressions: exit 0"
else
  fail "diff without regressions: exit $rc: $(cat stdout stderr)"
fi
rc=0
"$runner" report diff base/results.json regressed/results.json --json >stdout 2>stderr || rc=$?
python3 - stdout <<'EOF' && [[ $rc -eq 1 ]] && pass "diff --json with regressions: exit 1" || fail "diff --json: exit $rc: $(cat stdout stderr)"
import json, sys
doc = json.load(open(sys.argv[1]))
assert [(c["id"], c["base_status"], c["new_status"]) for c in doc["regressions"]] == [
    ("A.One", "PASS", "FAIL"), ("C.Three", "SKIP", "TIMEOUT")], doc["regressions"]
assert doc["regressions"][0]["reason"] == "FAIL because of A.One"
assert [c["id"] for c in doc["vanished"]] == ["D.Four"]
assert doc["summary"] == {"regressions": 2, "fixes": 0, "changed": 0, "added": 0, "vanished": 1}
EOF
RUN_ENV=suite=tools make_run tools - A.One=PASS
expect_usage_error "diff of unrelated suites" "unrelated runs: suite 'suite' against suite 'tools'" \
  "$runner" report diff base/results.json tools/results.json
make_run disjoint - Z.Zero=PASS
expect_usage_error "diff of runs without a common case" "unrelated runs: no case is in both" \
  "$runner" report diff base/results.json disjoint/results.json

# --- convert ----------------------------------------------------------------------------------
expect_usage_error "convert to an unknown format" "--to" \
  "$runner" report convert base/results.json --to yaml
expect_usage_error "convert --origin without kcidb" "--origin" \
  "$runner" report convert base/results.json --to junit --origin lab
for format in junit ktap kcidb html; do
  if ! "$runner" report convert --help | grep -q "$format"; then
    fail "convert --to $format: not offered"
    continue
  fi
  rc=0
  "$runner" report convert base/results.json --to "$format" >stdout 2>stderr || rc=$?
  "$runner" report convert base/results.json --to "$format" --out converted/report."$format" 2>>stderr || rc=$?
  # html links the run's folder relative to where the page is: stdout and FILE differ there.
  if [[ $rc -eq 0 && -s stdout && -s converted/report.$format ]] &&
    { [[ $format == html ]] || cmp -s stdout converted/report."$format"; }; then
    pass "convert --to $format: stdout and --out FILE"
  else
    fail "convert --to $format: exit $rc: $(head -c 300 stderr)"
  fi
done
expect_usage_error "convert --to kcidb with a bad origin" "BAD-origin" \
  "$runner" report convert base/results.json --to kcidb --origin BAD-origin --out out/kcidb.json
"$runner" report convert base/results.json --to kcidb --origin lab_1 >stdout 2>stderr &&
  python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["checkouts"][0]["origin"] == "lab_1"' stdout &&
  pass "convert --to kcidb --origin lab_1" || fail "convert --to kcidb --origin: $(head -c 300 stderr)"
# The page in converted/ links the logs of base/ from there.
grep -q 'href="../base/logs/[A-Z]' converted/report.html &&
  pass "convert --to html --out FILE: log links relative to FILE's folder" ||
  fail "convert --to html: no link into ../base/logs/"
xmllint --noout converted/report.junit && pass "convert --to junit: well-formed XML" ||
  fail "convert --to junit: not well-formed"

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
