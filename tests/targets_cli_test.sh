#!/bin/bash
# `run --target`, `run --shard` and `matrix` from the command line:
#   - an unknown target, a malformed shard, a target given with --vm: exit 2, one line on stderr;
#   - shards 1/3, 2/3 and 3/3 hold every case of the unsharded run exactly once, with the same
#     verdicts, and each records its shard;
#   - --target gvisor runs cases in gVisor (environment: sandbox gvisor, runsc_version, gVisor's
#     uname release), where a difference from Linux is a FAIL with its reason, never a SKIP;
#   - a gvisor run killed with SIGKILL leaves no runsc process and no runsc state in the host's
#     /tmp;
#   - `matrix` writes matrix.json and matrix.html with one column per target and per tool, the
#     column counts equal to that target's own results.json, and rejects an unknown target.
#
# usage: targets_cli_test.sh BIN_FOLDER   (must run as root; needs runsc)
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 BIN_FOLDER" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "targets_cli_test: must run as root" >&2
  exit 2
fi
runner=$(cd "$1" && pwd)/netns-conform
work=$(mktemp -d /tmp/targets-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# expect_usage NAME OUT WORD COMMAND...: exit 2, exactly one stderr line that contains WORD,
# nothing on stdout, no report in OUT.
check_dir=$work
expect_usage() {
  local name=$1 out=$2 word=$3
  shift 3
  expect_refusal_keeping "$out" "$name" "" "$word" "$@"
}

expect_usage "unknown target" "$work/x" "unknown target 'vax'" "$runner" run --target vax --out "$work/x"
expect_usage "shard K > N" "$work/x" "--shard '4/3'" "$runner" run --shard 4/3 --out "$work/x"
expect_usage "shard not K/N" "$work/x" "--shard 'two'" "$runner" run --shard two --out "$work/x"
expect_usage "target with --vm" "$work/x" "excludes" "$runner" run --target host --vm debian-6.12 --out "$work/x"
expect_usage "matrix unknown target" "$work/m" "unknown target 'vax'" "$runner" matrix --target host --target vax --out "$work/m"
if [[ ! -e $work/x/results.json && ! -e $work/m/matrix.json ]]; then
  pass "bad input wrote no report"
else
  fail "bad input wrote a report"
fi

# Shards: the union of 1/3..3/3 is the unsharded run.
filters=(--filter 'Veth*' --filter 'CloneErrors.*' --filter 'Nsid.*')
"$runner" run "${filters[@]}" --out "$work/all" 2>/dev/null || true
for k in 1 2 3; do
  "$runner" run "${filters[@]}" --shard "$k/3" --out "$work/shard$k" 2>/dev/null || true
done
if python3 - "$work" <<'PY'; then
import json, sys
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}/results.json"))
whole = {c["id"]: c["status"] for c in load("all")["cases"]}
union, problems = {}, []
for k in (1, 2, 3):
    run = load(f"shard{k}")
    if run["environment"].get("shard") != {"index": k, "count": 3}:
        problems.append(f"shard{k} records {run['environment'].get('shard')}")
    for c in run["cases"]:
        if c["id"] in union:
            problems.append(f"{c['id']} in two shards")
        union[c["id"]] = c["status"]
if union != whole:
    problems.append(f"union differs: {set(union.items()) ^ set(whole.items())}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(f"{len(whole)} cases, 3 shards")
PY
  pass "shards 1/3..3/3 hold the unsharded run's cases once each, same verdicts"
else
  fail "shards"
fi

# gVisor.
if ! command -v runsc >/dev/null; then
  fail "runsc is not installed (.ci/install-deps installs it)"
else
  before=$(compgen -G "/tmp/runsc-do*" | wc -l || true)
  # From a copy under /tmp, the harder place: the case's private /tmp must get the program's
  # folder bound back, inside gVisor too.
  mkdir "$work/bin"
  cp "$(dirname "$runner")"/{netns-conform,netns-conform-sandbox,netns-conform-suite} "$work/bin/"
  status=0
  "$work/bin/netns-conform" run --target gvisor --filter 'CloneErrors.*' --filter 'Lifecycle.*' \
    --out "$work/gvisor" 2>"$work/gvisor.err" || status=$?
  if python3 - "$work/gvisor/results.json" <<'PY'; then
import json, sys
run = json.load(open(sys.argv[1]))
env = run["environment"]
problems = []
if env.get("sandbox") != "gvisor" or env.get("target") != "gvisor":
    problems.append(f"sandbox/target {env.get('sandbox')}/{env.get('target')}")
if not env.get("runsc_version", "").startswith("runsc version"):
    problems.append(f"runsc_version {env.get('runsc_version')!r}")
import os
if env.get("kernel_release") == os.uname().release:
    problems.append("kernel_release is the host's, not gVisor's")
if not run["cases"]:
    problems.append("no cases")
for c in run["cases"]:
    if c["status"] in ("ERROR", "TIMEOUT", "MISS"):
        problems.append(f"{c['id']} {c['status']}: {c.get('reason', '')[:200]}")
    if c["status"] != "PASS" and not c.get("reason"):
        problems.append(f"{c['id']} {c['status']} without a reason")
    if c["status"] == "SKIP" and "gvisor" in c.get("reason", "").lower():
        problems.append(f"{c['id']} skipped for being gVisor")
counts = {s: sum(c["status"] == s for c in run["cases"]) for s in ("PASS", "FAIL", "SKIP", "ERROR")}
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(f"{env['runsc_version']}, uname {env['kernel_release']}: {counts}")
PY
    pass "gvisor run (exit $status) records gVisor; every case got past set-up; differences are FAIL"
  else
    fail "gvisor run: $(tail -3 "$work/gvisor.err")"
  fi
  if grep -q "EOPNOTSUPP\|EINVAL\|Expected" "$work/gvisor/results.json"; then
    pass "gvisor FAIL reasons carry the errno or the expectation"
  else
    fail "gvisor FAIL reasons say nothing"
  fi

  # SIGKILL in the middle of a gVisor run: runsc's sandboxes die with their runner, and runsc's
  # state, kept on a tmpfs of runsc's own mount namespace, goes with them.
  "$runner" run --target gvisor --filter 'Lifecycle.*' -j 2 --out "$work/killed" 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do
    pgrep -f "runsc-sandbox" >/dev/null && break
    sleep 0.05
  done
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  # The sandboxes go when their runsc dies (parent-death signal): wait for that, with a deadline.
  deadline=$((SECONDS + 20))
  while pgrep -f "runsc-(sandbox|gofer).*$work" >/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if pgrep -af "runsc" | grep -q "$work"; then
    fail "runsc processes outlived a SIGKILLed runner: $(pgrep -af runsc | head -3)"
  else
    pass "no runsc process outlives a SIGKILLed runner"
  fi
  after=$(compgen -G "/tmp/runsc-do*" | wc -l || true)
  state=${NETNS_CONFORM_CACHE:-/var/cache/netns-conform}/runsc-state
  if [[ $after -eq $before && -z $(ls -A "$state") ]] && ! grep -q "$state" /proc/mounts; then
    pass "no runsc state left on the host (/tmp, $state, mounts)"
  else
    fail "runsc state left: $(compgen -G '/tmp/runsc-do*'; ls -A "$state"; grep "$state" /proc/mounts)"
  fi
fi

# matrix: host and gvisor columns plus a tool column.
status=0
"$runner" matrix --target host --target gvisor --tool netns-ref --filter 'Veth*' \
  --out "$work/matrix" 2>"$work/matrix.err" || status=$?
if python3 - "$work/matrix" <<'PY'; then
import json, sys
folder = sys.argv[1]
matrix = json.load(open(f"{folder}/matrix.json"))
names = [c["name"] for c in matrix["columns"]]
problems = []
if names[:2] != ["host", "gvisor"] or "netns-ref" not in names:
    problems.append(f"columns {names}")
for column in matrix["columns"]:
    if column["kind"] != "target":
        continue
    own = json.load(open(f"{folder}/{column['folder']}/results.json"))["summary"]
    for key in ("total", "passed", "failed", "skipped", "errors"):
        if column["summary"][key] != own[key]:
            problems.append(f"{column['name']} {key} {column['summary'][key]} != {own[key]}")
html = open(f"{folder}/matrix.html").read()
for name in names:
    if name not in html:
        problems.append(f"{name} missing from matrix.html")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(f"columns {names}, {len(matrix['rows'])} rows")
PY
  pass "matrix (exit $status): one column per target and tool, counts equal to each run's"
else
  fail "matrix: $(tail -3 "$work/matrix.err")"
fi

echo "targets_cli_test: $failures failure(s)"
[[ $failures -eq 0 ]]
