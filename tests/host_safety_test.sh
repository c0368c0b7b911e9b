#!/bin/bash
# Proves that no run leaves anything on the host (DESIGN.md §2.2): the host's state is
# snapshotted before and compared after each of
#   1. a full run of the real suite;
#   2. a run of the fault suite (tests/fault_suite.cc: a pass that leaves veths, an nsfs mount,
#      /etc/netns/NAME and a setsid() sleeper holding a netns; a failure; a segfault; a hang
#      killed by timeout);
#   3. a fault-suite run whose runner is SIGKILLed while Fault.Hangs and Fault.HangsInInitialPidNs
#      (a case without a PID namespace of its own: `.initial_pid_ns`) block with all their residue
#      in place: its processes must go (PR_SET_PDEATHSIG, then the PID namespace or the keeper),
#      results.json must be absent or complete, journal.jsonl must hold complete lines only;
#   4. a fault-suite run whose runner gets SIGINT while Fault.Hangs blocks: exit 1, complete
#      reports, the interrupted and the never-started cases MISS;
#      2 to 4 once under each launcher (the fork server, `--launcher exec`);
#   5. a run whose fork server is SIGKILLed while two cases hang: they end as ERROR naming its
#      death, the next case runs on a new server, and nothing is left behind.
# The snapshot: link names, addresses, IPv4/IPv6 routes, /run/netns, /etc/netns and the entries
# of /etc (the sandbox lays an overlay over /etc where the host lacks /etc/netns), nsfs mounts
# and every mount point, a few sysctls, the processes of the run (found by an environment tag
# each of them inherits, so that a process that escaped its process group or session is found
# too, and a concurrent unrelated netns-conform is not), and the entries of /tmp.
#
# usage: host_safety_test.sh BIN_FOLDER   (holds netns-conform, netns-conform-suite and
#                                           netns-conform-fault-suite; must run as root)
# HOST_SAFETY_TMP_IGNORE: an extended regex of /tmp entry names that other programs running at
# the same time may create (default: the tool runner's own files and gcc's temporaries).
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 BIN_FOLDER" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "host_safety_test: must run as root (the runs create namespaces)" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
runner=$bin/netns-conform
fault=$bin/netns-conform-fault-suite
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for binary in "$runner" "$bin/netns-conform-suite" "$fault"; do
  if [[ ! -x $binary ]]; then
    echo "host_safety_test: $binary is missing (build the project first)" >&2
    exit 2
  fi
done
tmp_ignore=${HOST_SAFETY_TMP_IGNORE:-'^(bash_tool_.*|bash_jobs\..*|cc[A-Za-z0-9]{6}\..*)$'}

# Made before the first snapshot: the runs' --out folders live below it, so it is no residue.
work=$(mktemp -d /tmp/host-safety-test.XXXXXX)
# Every process of a run inherits this variable: the sandbox, the suite, the sleepers.
tag=NETNS_CONFORM_HOST_SAFETY_TAG=$$.$RANDOM.$(date +%s%N)
runner_pid=
cleanup() {
  if [[ -n $runner_pid ]] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -KILL "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# "PID COMM ARGS" of every live process carrying the tag (zombies have no environment: they
# hold nothing but a PID and are reaped by their new parent).
tagged_processes() {
  local environ pid
  # shellcheck disable=SC2013  # /proc/PID/environ: no spaces
  for environ in $(grep -lzxF "$tag" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    echo "$pid $(cat "/proc/$pid/comm" 2>/dev/null) $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")"
  done
}

# Waits up to 5 s for the run's processes to be gone (SIGKILL through PR_SET_PDEATHSIG and the
# teardown of a PID namespace are asynchronous). Prints what is left.
wait_processes_gone() {
  local deadline=$(($(now_ms) + 5000)) left
  while true; do
    left=$(tagged_processes)
    if [[ -z $left || $(now_ms) -ge $deadline ]]; then
      echo "$left"
      return
    fi
    sleep 0.05
  done
}

snapshot() {
  local file=$1 sysctl
  {
    echo "## links"
    ip -o link show | awk -F': ' '{print $2}'
    echo "## addresses"
    ip -o addr show | awk '{print $2, $3, $4}'
    echo "## ipv4 routes"
    ip route show table all | sed -E 's/ expires [^ ]+//'
    echo "## ipv6 routes"
    ip -6 route show table all | sed -E 's/ expires [^ ]+//'
    echo "## /run/netns"
    if [[ -e /run/netns ]]; then ls -A /run/netns; else echo "(absent)"; fi
    echo "## /etc/netns"
    if [[ -e /etc/netns ]]; then ls -A /etc/netns; else echo "(absent)"; fi
    echo "## /etc"
    ls -A /etc
    echo "## nsfs and netns mounts"
    grep -cE 'nsfs|netns' /proc/self/mountinfo || true
    echo "## mount points"
    awk '{print $5, $9}' /proc/self/mountinfo | sort
    echo "## sysctls"
    for sysctl in net/ipv4/ip_forward net/ipv6/conf/all/forwarding net/ipv4/conf/all/rp_filter \
      net/ipv4/ping_group_range net/core/somaxconn net/ipv6/conf/all/disable_ipv6 \
      user/max_net_namespaces kernel/core_pattern; do
      if [[ -r /proc/sys/$sysctl ]]; then
        echo "$sysctl = $(cat "/proc/sys/$sysctl")"
      else
        echo "$sysctl (absent)"
      fi
    done
    echo "## processes of the runs"
    tagged_processes
    echo "## /tmp"
    # shellcheck disable=SC2010  # names only, one a line
    ls -A /tmp | grep -vE "$tmp_ignore" || true
  } >"$file"
}

snapshot "$work/before"
if ! grep -qx '(absent)' <(sed -n '/^## \/run\/netns/,/^##/p' "$work/before"); then
  echo "NOTE: /run/netns exists on this host before the runs"
fi

# compare_host NAME: the host must look as before the first run.
compare_host() {
  local name=$1 left
  left=$(wait_processes_gone)
  if [[ -z $left ]]; then
    pass "$name: no process of the run is left"
  else
    fail "$name: processes of the run still alive 5 s after it ended: $(echo "$left" | tr '\n' ';')"
  fi
  snapshot "$work/after"
  if diff -u "$work/before" "$work/after" >"$work/diff"; then
    pass "$name: host state unchanged (links, addresses, routes, /run/netns, /etc/netns, /etc, mounts, sysctls, processes, /tmp)"
  else
    fail "$name: host state changed:"
    sed -n '3,$p' "$work/diff" | sed 's/^/    /'
    # Put the baseline back so one leak is not reported again by every later check.
    cp "$work/after" "$work/before"
  fi
}

# check_reports NAME FOLDER: results.json and junit.xml valid and agreeing.
check_reports() {
  local name=$1 folder=$2
  if bash "$script_dir/validate_reports.sh" "$folder" >"$work/validate.out" 2>&1; then
    pass "$name: reports complete and valid"
  else
    fail "$name: validate_reports.sh: $(tr '\n' ' ' <"$work/validate.out")"
  fi
}

# check_journal NAME FILE: every line is a complete JSON object and the file ends with a newline.
check_journal() {
  local name=$1 file=$2
  if python3 - "$file" <<'EOF'; then
import json
import sys

with open(sys.argv[1], "rb") as f:
    data = f.read()
if data and not data.endswith(b"\n"):
    sys.exit("the last line is cut short")
lines = data.decode("utf-8").splitlines()
if not lines or "journal" not in json.loads(lines[0]):
    sys.exit("no header line")
for number, line in enumerate(lines[1:], 2):
    record = json.loads(line)
    if not {"id", "status"} <= record.keys():
        sys.exit(f"line {number} is not a case record: {line[:200]}")
print(f"{len(lines) - 1} complete case lines")
EOF
    pass "$name: journal.jsonl holds complete lines only"
  else
    fail "$name: journal.jsonl is damaged"
  fi
}

# check_statuses NAME FOLDER ID=STATUS...: results.json holds exactly these cases and statuses.
check_statuses() {
  local name=$1 folder=$2
  shift 2
  if python3 - "$folder/results.json" "$@" <<'EOF'; then
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    got = {c["id"]: c["status"] for c in json.load(f)["cases"]}
expected = dict(arg.split("=") for arg in sys.argv[2:])
if got != expected:
    sys.exit(f"statuses {got}, expected {expected}")
EOF
    pass "$name: statuses as expected ($*)"
  else
    fail "$name: unexpected statuses"
  fi
}

# start_runner OUT ARGS...: the runner in the background (sets runner_pid), output in OUT.log.
start_runner() {
  local out=$1
  shift
  env "$tag" "$runner" run --out "$out" "$@" >"$out.log" 2>&1 &
  runner_pid=$!
}

# wait_for_hang OUT [CASE]: until Fault.Hangs (and CASE, a second hanging case) blocks with its
# residue in place and the journal has a case line, with a deadline. Returns 1 on timeout.
wait_for_hang() {
  local out=$1 second=${2:-Fault.Hangs} deadline=$(($(now_ms) + 20000))
  while [[ $(now_ms) -lt $deadline ]]; do
    if grep -q '"id"' "$out/journal.jsonl" 2>/dev/null &&
      grep -qF 'fault-suite: Fault.Hangs is blocking now' "$out/logs/Fault.Hangs.log" 2>/dev/null &&
      grep -qF "fault-suite: $second is blocking now" "$out/logs/$second.log" 2>/dev/null
    then
      return 0
    fi
    if ! kill -0 "$runner_pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.02
  done
  return 1
}

elapsed() { echo "$(($(now_ms) - $1)) ms"; }

# --- 1. the real suite -------------------------------------------------------------------------
out=$work/real
start=$(now_ms)
rc=0
env "$tag" "$runner" run --out "$out" >"$out.log" 2>&1 || rc=$?
if [[ $rc -eq 0 || $rc -eq 1 ]]; then
  pass "real suite: ran to the end, exit status $rc in $(elapsed "$start") ($(tail -n 2 "$out.log" | head -n 1))"
else
  fail "real suite: exit status $rc: $(tail -n 5 "$out.log")"
fi
check_reports "real suite" "$out"
compare_host "real suite"

# Fault.RunsAlone (`.alone`) runs first, then the listing's order: the first four end before
# Fault.Hangs starts.
fault_statuses=(Fault.RunsAlone=PASS Fault.PassAfterLeavingVeth=PASS Fault.FailsWithMessage=FAIL
  Fault.Segfaults=ERROR Fault.Hangs=TIMEOUT Fault.HangsInInitialPidNs=TIMEOUT Fault.PassInInitialPidNsLeavingSleeper=PASS
  Fault.ExitsWithoutResult=ERROR Fault.Skips=SKIP Fault.NeedsMissingKconfig=SKIP
  Fault.ForksAndLeavesAChild=PASS Fault.ExecsAnotherProgram=ERROR Fault.ExitsFromADestructor=ERROR
  Fault.ClosesStdio=PASS Fault.LowersItsRlimits=PASS Fault.BlocksEverySignal=PASS
  Fault.BlocksEverySignalAndHangs=TIMEOUT Fault.ExhaustsMemory=FAIL Fault.KillsItsParent=PASS)
# Sections 2 to 4 run under each launcher: the fork server (the default) and `--launcher exec`.
for launcher in fork-server exec; do

# --- 2. the fault suite ------------------------------------------------------------------------
out=$work/fault-$launcher
start=$(now_ms)
rc=0
env "$tag" "$runner" run --suite-binary "$fault" --launcher "$launcher" --timeout 3 -j 2 \
  --out "$out" >"$out.log" 2>&1 || rc=$?
if [[ $rc -eq 1 ]]; then
  pass "$launcher: fault suite: exit status 1 in $(elapsed "$start")"
else
  fail "$launcher: fault suite: exit status $rc, expected 1: $(tail -n 5 "$out.log")"
fi
check_reports "$launcher: fault suite" "$out"
check_statuses "$launcher: fault suite" "$out" "${fault_statuses[@]}"
compare_host "$launcher: fault suite"

# --- 3. the runner SIGKILLed mid-run -----------------------------------------------------------
out=$work/sigkill-$launcher
start=$(now_ms)
start_runner "$out" --suite-binary "$fault" --launcher "$launcher" --timeout 30 -j 2
if wait_for_hang "$out" Fault.HangsInInitialPidNs; then
  pass "$launcher: SIGKILL: Fault.Hangs and Fault.HangsInInitialPidNs block with their residue in place after $(elapsed "$start")"
else
  fail "$launcher: SIGKILL: Fault.Hangs and Fault.HangsInInitialPidNs never both blocked: $(tail -n 5 "$out.log")"
fi
during=$(tagged_processes)
rc=0
# (bash's "Killed" job notice would go to stderr: nothing to report there.)
{
  kill -KILL "$runner_pid"
  wait "$runner_pid"
} 2>/dev/null || rc=$?
runner_pid=
if [[ $rc -eq 137 ]]; then
  pass "$launcher: SIGKILL: the runner died of SIGKILL ($(echo "$during" | wc -l) processes of the run were alive: $(echo "$during" | awk '{print $2}' | sort | uniq -c | tr -s ' \n' ' '))"
else
  fail "$launcher: SIGKILL: the runner ended with status $rc before the kill: $(tail -n 5 "$out.log")"
fi
if [[ ! -e $out/results.json ]]; then
  pass "$launcher: SIGKILL: results.json absent"
elif python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$out/results.json" 2>/dev/null; then
  pass "$launcher: SIGKILL: results.json is complete JSON"
else
  fail "$launcher: SIGKILL: results.json is half-written"
fi
check_journal "$launcher: SIGKILL" "$out/journal.jsonl"
compare_host "$launcher: SIGKILL"

# --- 4. the runner interrupted by SIGINT mid-run -----------------------------------------------
# -j 1: the cases after Fault.Hangs have not started when the signal arrives.
out=$work/sigint-$launcher
start=$(now_ms)
start_runner "$out" --suite-binary "$fault" --launcher "$launcher" --timeout 30 -j 1
if wait_for_hang "$out"; then
  pass "$launcher: SIGINT: Fault.Hangs blocks with its residue in place after $(elapsed "$start")"
else
  fail "$launcher: SIGINT: Fault.Hangs never blocked: $(tail -n 5 "$out.log")"
fi
kill -INT "$runner_pid"
rc=0
{ wait "$runner_pid"; } 2>/dev/null || rc=$?
runner_pid=
if [[ $rc -eq 1 ]]; then
  pass "$launcher: SIGINT: exit status 1 after $(elapsed "$start")"
else
  fail "$launcher: SIGINT: exit status $rc, expected 1: $(tail -n 5 "$out.log")"
fi
check_reports "$launcher: SIGINT" "$out"
missed=()
for status in "${fault_statuses[@]:4}"; do missed+=("${status%%=*}=MISS"); done
check_statuses "$launcher: SIGINT" "$out" "${fault_statuses[@]:0:4}" "${missed[@]}"
check_journal "$launcher: SIGINT" "$out/journal.jsonl"
compare_host "$launcher: SIGINT"
done

# --- 5. the fork server SIGKILLed mid-run ------------------------------------------------------
# The cases it was running end as ERROR naming its death, their sandboxes die with it (their
# inits' death signal, then the PID namespace or the keeper), and the next case gets a new server.
out=$work/server-sigkill
start=$(now_ms)
start_runner "$out" --suite-binary "$fault" --timeout 30 -j 2 --filter Fault.PassAfterLeavingVeth \
  --filter 'Fault.Hangs*' --filter Fault.KillsItsParent
if wait_for_hang "$out" Fault.HangsInInitialPidNs; then
  pass "server SIGKILL: Fault.Hangs and Fault.HangsInInitialPidNs block after $(elapsed "$start")"
else
  fail "server SIGKILL: the hanging cases never both blocked: $(tail -n 5 "$out.log")"
fi
# The server is the runner's child; the inits and cases it forked carry the same command line.
server=$(pgrep -P "$runner_pid" -f -- '--netns_conform_serve_fd=' || true)
if [[ $(echo "$server" | wc -w) -eq 1 ]]; then
  kill -KILL "$server"
  pass "server SIGKILL: killed the fork server, pid $server"
else
  fail "server SIGKILL: expected one fork server, found [$server]"
fi
rc=0
{ wait "$runner_pid"; } 2>/dev/null || rc=$?
runner_pid=
if [[ $rc -eq 1 ]]; then
  pass "server SIGKILL: the run went on and exited 1 after $(elapsed "$start")"
else
  fail "server SIGKILL: exit status $rc, expected 1: $(tail -n 5 "$out.log")"
fi
check_reports "server SIGKILL" "$out"
check_statuses "server SIGKILL" "$out" Fault.PassAfterLeavingVeth=PASS Fault.Hangs=ERROR \
  Fault.HangsInInitialPidNs=ERROR Fault.KillsItsParent=PASS
if grep -q 'fork server was killed by SIGKILL while the case ran' "$out/results.json"; then
  pass "server SIGKILL: the reasons name the server's death"
else
  fail "server SIGKILL: no reason names the server's death"
fi
compare_host "server SIGKILL"

if [[ $failures -ne 0 ]]; then
  echo "host_safety_test: $failures check(s) failed"
  exit 1
fi
echo "host_safety_test: all checks passed"
