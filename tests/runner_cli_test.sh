#!/bin/bash
# The command-line contract of `netns-conform` (DESIGN.md §2.5):
#   - bad input (unknown option or subcommand, a filter matching nothing, an unwritable --out, an
#     unusable --spare-nic, -j 0, --timeout 0, not root, a missing suite binary) exits 2 with a
#     one-line reason on stderr, and writes nothing: no reports in the --out folder, and an
#     earlier run's reports there are left as they were;
#   - `list` prints every case with its clause;
#   - a run of the fault suite (tests/fault_suite.cc) exits 1 with one exact status per case, and
#     reports that tests/validate_reports.sh accepts, under each launcher (`--launcher
#     fork-server`, the default, and `exec`), which give every case the same status and reason;
#   - a run in which nothing fails exits 0.
#
# usage: runner_cli_test.sh BIN_FOLDER   (holds netns-conform, netns-conform-suite and
#                                          netns-conform-fault-suite; must run as root)
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 BIN_FOLDER" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "runner_cli_test: must run as root (the runs create namespaces)" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
runner=$bin/netns-conform
suite=$bin/netns-conform-suite
fault=$bin/netns-conform-fault-suite
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for binary in "$runner" "$suite" "$fault"; do
  if [[ ! -x $binary ]]; then
    echo "runner_cli_test: $binary is missing (build the project first)" >&2
    exit 2
  fi
done

work=$(mktemp -d /tmp/runner-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Readable by nobody, for the non-root check.
chmod 755 "$work"

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# expect_usage_error NAME WORD OUT_FOLDER COMMAND...
# The command must exit 2, print exactly one non-empty line on stderr containing WORD (the thing
# it refuses), nothing on stdout, and leave OUT_FOLDER's reports as they were.
check_dir=$work
expect_usage_error() {
  local name=$1 word=$2 out=$3
  shift 3
  expect_refusal_keeping "$out" "$name" "" "$word" "$@"
}

fault_run=(run --suite-binary "$fault" --timeout 3 -j 2)

# --- bad input ---------------------------------------------------------------------------------
expect_usage_error "unknown launcher" "--launcher" "$work/out-launcher" \
  "$runner" "${fault_run[@]}" --launcher spawn --out "$work/out-launcher"
# The suite binary as the fork server refuses what is not a socket, and a spare count out of range.
expect_refusal_keeping "$work/out-serve" "suite: --netns_conform_serve_fd on a non-socket" \
  "netns-conform-suite:" "not an open socket" "$suite" --netns_conform_serve_fd=0
expect_refusal_keeping "$work/out-serve" "suite: --netns_conform_serve_fd=abc" \
  "netns-conform-suite:" "not an open socket" "$suite" --netns_conform_serve_fd=abc
expect_refusal_keeping "$work/out-serve" "suite: --netns_conform_spares=-1" \
  "netns-conform-suite:" "0 to 256" "$suite" --netns_conform_spares=-1
expect_usage_error "unknown option" "--no-such-option" "$work/out-option" \
  "$runner" --no-such-option run --out "$work/out-option"
expect_usage_error "unknown option of run" "--no-such-option" "$work/out-run-option" \
  "$runner" "${fault_run[@]}" --no-such-option --out "$work/out-run-option"
expect_usage_error "unknown subcommand" "frobnicate" "$work/out-subcommand" \
  "$runner" frobnicate --out "$work/out-subcommand"
expect_usage_error "no subcommand" "subcommand" "$work/out-none" "$runner"
expect_usage_error "filter matching nothing" "NoSuch.*" "$work/out-filter" \
  "$runner" "${fault_run[@]}" --filter 'NoSuch.*' --out "$work/out-filter"
: >"$work/regular-file"
expect_usage_error "--out below a regular file" "$work/regular-file/out" "$work/regular-file/out" \
  "$runner" "${fault_run[@]}" --out "$work/regular-file/out"
expect_usage_error "--out in /proc" "/proc/foo" /proc/foo "$runner" "${fault_run[@]}" --out /proc/foo
expect_usage_error "--spare-nic that does not exist" "nosuchnic0" "$work/out-nic" \
  "$runner" "${fault_run[@]}" --spare-nic nosuchnic0 --out "$work/out-nic"
expect_usage_error "--spare-nic lo" "lo" "$work/out-lo" \
  "$runner" "${fault_run[@]}" --spare-nic lo --out "$work/out-lo"

# An interface that is UP must be refused as busy, and left exactly as it was.
if ip -o link show eth0 >/dev/null 2>&1; then
  link_before=$(ip -o link show eth0)
  addr_before=$(ip -o addr show eth0)
  expect_usage_error "--spare-nic eth0 (UP)" "eth0" "$work/out-eth0" \
    "$runner" "${fault_run[@]}" --spare-nic eth0 --out "$work/out-eth0"
  if ! grep -q 'UP' "$work/stderr"; then
    fail "--spare-nic eth0: the reason does not say it is UP: $(cat "$work/stderr")"
  fi
  if [[ $(ip -o link show eth0) == "$link_before" && $(ip -o addr show eth0) == "$addr_before" ]]
  then
    pass "eth0 untouched (same flags and addresses)"
  else
    fail "eth0 changed: was [$link_before] [$addr_before], is [$(ip -o link show eth0)] [$(ip -o addr show eth0)]"
  fi
else
  echo "NOTE: no eth0 here; the busy --spare-nic check is skipped"
fi

expect_usage_error "-j 0" "jobs" "$work/out-j0" "$runner" run --suite-binary "$fault" -j 0 \
  --out "$work/out-j0"
expect_usage_error "--timeout 0" "timeout" "$work/out-timeout" \
  "$runner" run --suite-binary "$fault" --timeout 0 --out "$work/out-timeout"
expect_usage_error "missing --suite-binary" "$work/no-such-suite" "$work/out-suite" \
  "$runner" run --suite-binary "$work/no-such-suite" --out "$work/out-suite"
expect_usage_error "list with a missing --suite-binary" "$work/no-such-suite" "$work/out-list" \
  "$runner" list --suite-binary "$work/no-such-suite"
if command -v setpriv >/dev/null; then
  as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  as_nobody=(runuser -u nobody --)
fi
expect_usage_error "not root" "root" "$work/out-nonroot" \
  "${as_nobody[@]}" "$runner" "${fault_run[@]}" --out "$work/out-nonroot"

# Bad input next to an earlier run's reports: they stay as they were (not cleared, not rewritten).
earlier=$work/out-earlier
rc=0
"$runner" run --suite-binary "$fault" --filter 'Fault.Skips' --out "$earlier" \
  >/dev/null 2>"$work/earlier.stderr" || rc=$?
if [[ $rc -eq 0 && -s $earlier/results.json ]]; then
  expect_usage_error "bad input beside an earlier run's reports" "NoSuch.*" "$earlier" \
    "$runner" "${fault_run[@]}" --filter 'NoSuch.*' --out "$earlier"
  expect_usage_error "--spare-nic lo beside an earlier run's reports" "lo" "$earlier" \
    "$runner" "${fault_run[@]}" --spare-nic lo --out "$earlier"
else
  fail "the run to make earlier reports exited $rc: $(tail -n 3 "$work/earlier.stderr")"
fi

# --- list --------------------------------------------------------------------------------------
# Every case of each suite, each with a clause id, as the suite itself declares them.
check_list() {
  local name=$1 binary=$2 rc=0
  shift 2
  "$runner" list "$@" >"$work/list.out" 2>"$work/list.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "$name: exit status $rc: $(head -c 400 "$work/list.err")"
    return
  fi
  if python3 - "$binary" "$work/list.out" <<'EOF'; then
import json
import subprocess
import sys

binary, listing = sys.argv[1], sys.argv[2]
declared = json.loads(subprocess.run([binary, "--netns_conform_list"], check=True,
                                     capture_output=True, text=True).stdout)
expected = [(case["id"], case["clause"]) for case in declared]
printed = []
with open(listing, encoding="utf-8") as f:
    for line in f:
        fields = line.split()
        if len(fields) != 2:
            sys.exit(f"not 'ID  CLAUSE': {line!r}")
        printed.append(tuple(fields))
if not expected:
    sys.exit("the suite declares no cases")
if any(not clause for _, clause in expected):
    sys.exit("a case without a clause")
if printed != expected:
    sys.exit(f"printed {printed}, the suite declares {expected}")
print(f"{len(printed)} cases, each with its clause")
EOF
    pass "$name"
  else
    fail "$name"
  fi
}
check_list "list prints every case of the real suite with its clause" "$suite"
check_list "list prints every case of the fault suite with its clause" "$fault" \
  --suite-binary "$fault"

# --- a run of the fault suite, under each launcher ----------------------------------------------
# The fork server (the default) and the exec launcher must give every case the same ending.
for launcher in fork-server exec; do
out=$work/out-fault-$launcher
rc=0
start=$(date +%s%N)
"$runner" "${fault_run[@]}" --launcher "$launcher" --out "$out" >"$work/fault.stdout" \
  2>"$work/fault.stderr" || rc=$?
elapsed=$((($(date +%s%N) - start) / 1000000))ms
if [[ $rc -eq 1 ]]; then
  pass "$launcher: fault-suite run exits 1 (in $elapsed)"
else
  fail "$launcher: fault-suite run exits $rc, expected 1: $(tail -n 5 "$work/fault.stderr")"
fi
if python3 - "$out/results.json" <<'EOF'; then
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    cases = {case["id"]: case for case in json.load(f)["cases"]}
# id: (status, texts its reason must contain)
expected = {
    "Fault.PassAfterLeavingVeth": ("PASS", []),
    "Fault.FailsWithMessage": ("FAIL", ["fault-suite: deliberate failure 7f3e"]),
    "Fault.Segfaults": ("ERROR", ["SIGSEGV"]),
    "Fault.Hangs": ("TIMEOUT", ["timeout"]),
    "Fault.HangsInInitialPidNs": ("TIMEOUT", ["timeout"]),
    "Fault.PassInInitialPidNsLeavingSleeper": ("PASS", []),
    "Fault.ExitsWithoutResult": ("ERROR", ["status 3"]),
    "Fault.Skips": ("SKIP", ["fault-suite: deliberate skip 91ac"]),
    "Fault.NeedsMissingKconfig": ("SKIP", ["CONFIG_NETNS_CONFORM_NEVER_SET"]),
    "Fault.ForksAndLeavesAChild": ("PASS", []),
    "Fault.ExecsAnotherProgram": ("ERROR", ["exited with status 4 without reporting"]),
    "Fault.ExitsFromADestructor": ("ERROR", ["exited with status 5 without reporting"]),
    "Fault.ClosesStdio": ("PASS", []),
    "Fault.LowersItsRlimits": ("PASS", []),
    "Fault.BlocksEverySignal": ("PASS", []),
    "Fault.BlocksEverySignalAndHangs": ("TIMEOUT", ["timeout"]),
    "Fault.ExhaustsMemory": ("FAIL", ["fault-suite: memory ran out as planned 5d20"]),
    "Fault.KillsItsParent": ("PASS", []),
    "Fault.RunsAlone": ("PASS", []),
}
problems = []
if sorted(cases) != sorted(expected):
    problems.append(f"cases {sorted(cases)}, expected {sorted(expected)}")
for case_id, (status, texts) in expected.items():
    case = cases.get(case_id)
    if case is None:
        continue
    if case["status"] != status:
        problems.append(f"{case_id} is {case['status']}, expected {status}: {case.get('reason')!r}")
    for text in texts:
        if text not in case.get("reason", ""):
            problems.append(f"{case_id}: reason lacks {text!r}: {case.get('reason')!r}")
    if not case.get("clause", "").startswith("test.fault."):
        problems.append(f"{case_id}: clause {case.get('clause')!r}")
# An unmet requirement is judged before anything starts: no process, so no log.
if "log" in cases.get("Fault.NeedsMissingKconfig", {}):
    problems.append("Fault.NeedsMissingKconfig was started (it has a log)")
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
  pass "$launcher: fault-suite results.json: each case's own status (PASS, FAIL with its message, ERROR naming the signal or exit status, TIMEOUT, SKIP with its reason)"
else
  fail "$launcher: fault-suite results.json does not hold the expected statuses"
fi
# Fault.RunsAlone (`.alone`, 400 ms) is listed after cases that end in milliseconds: had any of
# them started beside it, its ending would not be the journal's first.
first=$(python3 -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    entry = json.loads(line)
    if "id" in entry:
        print(entry["id"])
        break' "$out/journal.jsonl")
if [[ $first == Fault.RunsAlone ]]; then
  pass "$launcher: the .alone case ran first, with no case beside it"
else
  fail "$launcher: the journal's first case is $first, expected Fault.RunsAlone"
fi
if bash "$script_dir/validate_reports.sh" "$out" >"$work/validate.out" 2>&1; then
  pass "$launcher: fault-suite reports valid, junit.xml counts agree: $(tail -n 1 "$work/validate.out")"
else
  fail "$launcher: validate_reports.sh on the fault-suite run: $(cat "$work/validate.out")"
fi
done
# The same ending for every case under both launchers: status, and the reason up to the log tail.
if python3 - "$work/out-fault-fork-server/results.json" "$work/out-fault-exec/results.json" <<'EOF'; then
import json
import sys


def endings(path):
    with open(path, encoding="utf-8") as f:
        return {c["id"]: (c["status"], c.get("reason", "").split("\n--- last lines of")[0])
                for c in json.load(f)["cases"]}


fork, exec_ = endings(sys.argv[1]), endings(sys.argv[2])
differ = [f"{i}: fork-server {fork.get(i)} / exec {exec_.get(i)}"
          for i in sorted(set(fork) | set(exec_)) if fork.get(i) != exec_.get(i)]
if differ:
    sys.exit("\n".join(differ))
EOF
  pass "fault suite: fork-server and exec give every case the same status and reason"
else
  fail "fault suite: the launchers disagree (above)"
fi
# A case's log is that case's output alone: never the spare's warm-up (gtest's run over no test,
# fixtures/fork_server.h) nor another case's.
if python3 - "$work/out-fault-fork-server" <<'EOF'; then
import json
import os
import sys

out = sys.argv[1]
with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
    cases = json.load(f)["cases"]
problems = []
for case in cases:
    if "log" not in case:
        continue
    with open(os.path.join(out, case["log"]), encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    runs = [line.split("]", 1)[1].strip() for line in lines if line.startswith("[ RUN      ]")]
    if runs != [case["id"]]:
        problems.append(f"{case['id']}: its log runs {runs}")
    if any("Running 0 tests" in line for line in lines):
        problems.append(f"{case['id']}: its log holds the warm-up run")
if problems:
    sys.exit("\n".join(problems))
EOF
  pass "fork-server: each case's log holds its own run alone (no warm-up, no other case)"
else
  fail "fork-server: a case's log holds more than its own run (above)"
fi

# --- a run in which nothing fails --------------------------------------------------------------
out=$work/out-skips
rc=0
"$runner" run --suite-binary "$fault" --filter 'Fault.Skips' --out "$out" \
  >"$work/skips.stdout" 2>"$work/skips.stderr" || rc=$?
if [[ $rc -eq 0 ]] &&
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["cases"]; sys.exit(not (len(c) == 1 and c[0]["status"] == "SKIP"))' \
    "$out/results.json"; then
  pass "run --filter 'Fault.Skips' exits 0 with one SKIP"
else
  fail "run --filter 'Fault.Skips' exits $rc: $(tail -n 3 "$work/skips.stderr")"
fi

if [[ $failures -ne 0 ]]; then
  echo "runner_cli_test: $failures check(s) failed"
  exit 1
fi
echo "runner_cli_test: all checks passed"
