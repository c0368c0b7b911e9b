#!/bin/bash
# The CI examples under ci/ (ci/README.md):
#   - the GitHub Actions, GitLab CI and LAVA files parse as YAML and have the expected shape;
#   - every script they (and the scripts) call exists and is executable, and parses as bash;
#   - ci/lava-test-cases.sh prints one lava-test-case call per case with the right result when
#     lava-test-case is not on PATH, and calls it when it is;
#   - shards 1/2 and 2/2 of the host target run through ci/run-shard.sh and merged by
#     ci/merge-shards.sh equal an unsharded run of the same filter (same case ids, same verdicts),
#     and the LAVA script reports that merged run case by case.
# The last part needs `run --target` and `run --shard`: a runner without them fails the test.
#
# usage: ci_examples_test.sh BIN_FOLDER SOURCE_FOLDER   (as root: the runs create namespaces)
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 2 || ! -x $1/netns-conform || ! -d $2/ci ]]; then
  echo "usage: $0 BIN_FOLDER SOURCE_FOLDER" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
ci=$source_dir/ci
work=$(mktemp -d /tmp/ci-examples-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# --- the YAML files -----------------------------------------------------------------------------
if python3 - "$ci" <<'EOF'; then pass "the three YAML files parse and have the expected shape"; else fail "YAML"; fi
import sys
import yaml

ci = sys.argv[1]
load = lambda name: yaml.safe_load(open("%s/%s" % (ci, name), encoding="utf-8"))
targets = ["host", "debian-6.1-cloud", "debian-6.12", "no-netns", "gvisor"]

github = load("github-actions.yml")
assert True in github or "on" in github, "no trigger"  # YAML 1.1 reads the key `on` as true
shard, merge = github["jobs"]["shard"], github["jobs"]["merge"]
assert shard["strategy"]["matrix"]["target"] == targets, shard["strategy"]
assert len(shard["strategy"]["matrix"]["shard"]) == int(github["env"]["SHARDS"])
assert merge["needs"] == "shard" and merge["strategy"]["matrix"]["target"] == targets
assert shard["container"]["image"] == "debian:12"

gitlab = load("gitlab-ci.yml")
matrix = gitlab["shard"]["parallel"]["matrix"][0]
assert matrix["TARGET"] == targets and len(matrix["SHARD"]) == int(gitlab["variables"]["SHARDS"])
assert gitlab["merge"]["parallel"]["matrix"][0]["TARGET"] == targets
assert gitlab[".debian-root"]["image"] == "debian:12"

lava = load("lava-netns-conform.yaml")
assert lava["metadata"]["format"] == "Lava-Test Test Definition 1.0", lava["metadata"]
for key in ("name", "description", "os", "scope", "devices"):
    assert lava["metadata"].get(key), key
steps = lava["run"]["steps"]
assert all(isinstance(step, str) for step in steps) and steps, steps
assert any("lava-test-cases.sh" in step for step in steps), steps
EOF

# --- the scripts they call ----------------------------------------------------------------------
scripts=$(grep -ohE '\.ci/install-deps|ci/[A-Za-z0-9_.-]+\.sh' "$ci"/*.yml "$ci"/*.yaml "$ci"/*.sh |
  sort -u)
missing=()
for script in $scripts; do
  if [[ ! -x $source_dir/$script ]]; then
    missing+=("$script")
  elif [[ $script == *.sh ]] && ! bash -n "$source_dir/$script"; then
    missing+=("$script (does not parse)")
  fi
done
if [[ ${#missing[@]} -eq 0 && -n $scripts ]]; then
  pass "every script referenced exists and is executable: ${scripts//$'\n'/ }"
else
  fail "scripts missing or not executable: ${missing[*]:-none referenced}"
fi

# --- the LAVA script on a hand-made run ---------------------------------------------------------
python3 - "$work/lava.json" <<'EOF'
import json, sys
statuses = ["PASS", "FAIL", "SKIP", "ERROR", "TIMEOUT", "MISS", "XFAIL", "XPASS"]
cases = [{"id": "Lava.%s" % s.title(), "status": s, "clause": "c", "duration_s": 0}
         for s in statuses]
cases.append({"id": "Tools.AddDel", "tool": "my tool", "status": "PASS", "clause": "c",
              "duration_s": 0})
json.dump({"schema_version": 2, "cases": cases}, open(sys.argv[1], "w"))
EOF
expected='lava-test-case Lava.Pass --result pass
lava-test-case Lava.Fail --result fail
lava-test-case Lava.Skip --result skip
lava-test-case Lava.Error --result fail
lava-test-case Lava.Timeout --result fail
lava-test-case Lava.Miss --result unknown
lava-test-case Lava.Xfail --result skip
lava-test-case Lava.Xpass --result pass
lava-test-case Tools.AddDel.my_tool --result pass'
rc=0
output=$(PATH=/usr/bin:/bin "$ci/lava-test-cases.sh" "$work/lava.json") || rc=$?
if [[ $rc -eq 0 && $output == "$expected" ]]; then
  pass "lava-test-cases.sh without lava-test-case: prints one call per case"
else
  fail "lava-test-cases.sh printed (exit $rc): $output"
fi
mkdir -p "$work/lava-bin"
printf '#!/bin/sh\necho "$@" >>%q\n' "$work/lava-calls" >"$work/lava-bin/lava-test-case"
chmod +x "$work/lava-bin/lava-test-case"
rc=0
output=$(PATH=$work/lava-bin:/usr/bin:/bin "$ci/lava-test-cases.sh" "$work/lava.json") || rc=$?
if [[ $rc -eq 0 && -z $output && $(sed 's/^/lava-test-case /' "$work/lava-calls") == "$expected" ]]; then
  pass "lava-test-cases.sh with lava-test-case on PATH: calls it once per case"
else
  fail "lava-test-cases.sh with lava-test-case (exit $rc): $output / $(cat "$work/lava-calls" 2>&1)"
fi
rc=0
"$ci/lava-test-cases.sh" "$work/missing.json" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] && pass "lava-test-cases.sh on a missing file: exit 2" ||
  fail "lava-test-cases.sh on a missing file: exit $rc"

# --- the shard and merge scripts on the host ----------------------------------------------------
help=$("$bin/netns-conform" run --help)
if ! grep -q -- '--shard' <<<"$help" || ! grep -q -- '--target' <<<"$help"; then
  fail "netns-conform run --help lists no --target/--shard: the shard scripts cannot run"
  echo "$failures check(s) failed"
  exit 1
fi

# Two suites, 17 cases here (`netns-conform list --filter ...`): enough for both shards.
filters=(--filter 'KeepAlive.*' --filter 'Veth*')
export NETNS_CONFORM_SKIP_DEPS=1 NETNS_CONFORM_SKIP_BUILD=1 NETNS_CONFORM_BUILD_DIR=$bin/..
export NETNS_CONFORM_RESULTS=$work/results
cd "$work"
shard_ok=1
for index in 1 2; do
  if ! "$ci/run-shard.sh" host "$index" 2 -- "${filters[@]}" >"$work/shard-$index.log" 2>&1; then
    fail "run-shard.sh host $index 2: $(tail -3 "$work/shard-$index.log")"
    shard_ok=0
  fi
done
unsharded_status=0
"$bin/netns-conform" run --target host "${filters[@]}" --out "$work/unsharded" \
  >"$work/unsharded.log" 2>&1 || unsharded_status=$?
[[ $unsharded_status -le 1 ]] ||
  fail "unsharded run: exit $unsharded_status: $(tail -3 "$work/unsharded.log")"
if [[ $shard_ok -eq 1 ]]; then
  rc=0
  "$ci/merge-shards.sh" --out "$work/merged" "$work/results/host-1" "$work/results/host-2" \
    >"$work/merge.log" 2>&1 || rc=$?
  # Without a baseline the merged run's verdict decides, as the unsharded run's did.
  if [[ $rc -eq $unsharded_status ]]; then
    pass "run-shard.sh 1/2 and 2/2, merge-shards.sh: exit $rc as the unsharded run"
  else
    fail "merge-shards.sh: exit $rc: $(tail -5 "$work/merge.log")"
  fi
  for name in results.json junit.xml results.ktap kcidb.json index.html; do
    [[ -s $work/merged/$name ]] || fail "merge-shards.sh wrote no $name"
  done
  if python3 - "$work" <<'EOF'; then pass "the merged shards equal the unsharded run (ids, verdicts)"; else fail "merged != unsharded"; fi
import json, os, sys
work = sys.argv[1]
load = lambda folder: json.load(open(os.path.join(work, folder, "results.json")))
merged, unsharded = load("merged"), load("unsharded")
shards = [load("results/host-1"), load("results/host-2")]
verdicts = lambda run: sorted((c["id"], c["status"]) for c in run["cases"])
assert verdicts(merged) == verdicts(unsharded), (verdicts(merged), verdicts(unsharded))
assert len(verdicts(merged)) >= 4, "the filter picked too few cases to split"
assert all(s["cases"] for s in shards), "a shard is empty"
assert [s["environment"]["shard"] for s in shards] == [{"index": 1, "count": 2},
                                                       {"index": 2, "count": 2}]
assert "shard" not in merged["environment"]
for case in merged["cases"]:
    if "log" in case:
        assert os.path.isfile(os.path.join(work, "merged", case["log"])), case["log"]
EOF
  expected=$(python3 -c '
import json, sys
results = {"PASS": "pass", "SKIP": "skip", "FAIL": "fail", "ERROR": "fail", "TIMEOUT": "fail",
           "MISS": "unknown", "XFAIL": "skip", "XPASS": "pass"}
for case in json.load(open(sys.argv[1]))["cases"]:
    print("lava-test-case %s --result %s" % (case["id"], results[case["status"]]))' \
    "$work/merged/results.json")
  output=$(PATH=/usr/bin:/bin "$ci/lava-test-cases.sh" "$work/merged/results.json")
  if [[ -n $output && $output == "$expected" ]]; then
    pass "lava-test-cases.sh on the merged run: $(wc -l <<<"$output") lines, one per case"
  else
    fail "lava-test-cases.sh on the merged run: $output"
  fi
  rc=0
  "$ci/merge-shards.sh" --out "$work/merged-vs-base" --baseline "$work/unsharded/results.json" \
    "$work/results/host-1" "$work/results/host-2" >"$work/merge-base.log" 2>&1 || rc=$?
  if [[ $rc -eq 0 ]] && grep -q '^0 regressions' "$work/merged-vs-base/diff.txt"; then
    pass "merge-shards.sh --baseline: no regression, exit 0"
  else
    fail "merge-shards.sh --baseline: exit $rc: $(tail -5 "$work/merge-base.log")"
  fi
  rc=0
  "$ci/merge-shards.sh" --out "$work/partial" "$work/results/host-1" >"$work/partial.log" 2>&1 ||
    rc=$?
  [[ $rc -eq 2 ]] && grep -q 'shard 2/2 missing' "$work/partial.log" &&
    pass "merge-shards.sh with a shard missing: exit 2" ||
    fail "merge-shards.sh with a shard missing: exit $rc: $(cat "$work/partial.log")"
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
