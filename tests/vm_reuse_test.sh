#!/usr/bin/env bash
# The reuse sandbox end to end (`netns-conform vm start` / `run --attach` / `vm list` /
# `vm stop`), on debian-6.1-cloud (fetched on first use):
#   1. start a guest; a second start of the name is refused; `run --attach` runs in it without a
#      reboot: the whole suite (run 1), then a subset (run 2) that must be faster than the same
#      subset through `run --vm` (a boot plus the run, measured here too); each: reports valid,
#      sandbox "vm-reuse" with its run number, Refund.* PASS, the exit status agreeing with the
#      verdicts, and the cases that SKIP the same as in run 1 (a reused guest must not lose its
#      NIC or anything else the cases need); `vm list` shows the guest and its runs; an
#      interrupted attach (SIGINT) is cut short, still writes valid reports and leaves the guest
#      usable (run 4); `vm stop` leaves no supervisor, janitor, qemu, state folder or socket;
#   2. bad input: attach to / stop a name that is not running, a bad name: one line, exit 2;
#   3. a guest whose qemu is SIGKILLed, and one whose supervisor is SIGKILLed: everything goes
#      by itself (no command run), polled with a deadline.
# Processes are only ever killed by the PIDs the guests' meta.json names.
# usage: vm_reuse_test.sh BIN_FOLDER OUT_FOLDER SCHEMA
set -uo pipefail

if [[ $# -ne 3 || ! -x $1/netns-conform ]]; then
  echo "usage: $0 BIN_FOLDER OUT_FOLDER SCHEMA" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "vm_reuse_test: must run as root" >&2
  exit 2
fi
nc=$1/netns-conform
out=$2
schema=$3
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${NETNS_CONFORM_VM_DIR:-/run/netns-conform/vm}
kernel=${VM_REUSE_KERNEL:-debian-6.1-cloud}
rm -rf "$out"
mkdir -p "$out"
name=reuse-$$
subset=(--filter 'Refund.*' --filter 'Lifecycle.*' --filter 'CloneErrors.*')
had_run_netns=$([[ -e /run/netns ]] && echo yes || echo no)
had_etc_netns=$([[ -e /etc/netns ]] && echo yes || echo no)

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$@"; }

# alive PID START: the process runs (not a zombie) and is the one that had starttime START.
alive() {
  local want=${2:-0} stat
  [[ -n $1 && $1 != 0 ]] || return 1
  stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat  # $1 is field 3 (state), ${20} field 22 (starttime)
  [[ $1 != Z && $1 != X ]] || return 1
  [[ $want == 0 || ${20} == "$want" ]]
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds or the deadline.
wait_for() {
  local deadline
  deadline=$(($(date +%s%N) + ${1%.*} * 1000000000))
  shift
  while ! "$@"; do
    (($(date +%s%N) < deadline)) || return 1
    sleep 0.05
  done
}

# pids NAME: "supervisor_pid supervisor_start janitor_pid janitor_start qemu_pid qemu_start"
pids() {
  python3 - "$root/$1/meta.json" << 'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(*(m[k] for k in ("supervisor_pid", "supervisor_start", "janitor_pid", "janitor_start",
                       "qemu_pid", "qemu_start")))
PY
}

# any qemu whose -name is this guest's (read from /proc, no pattern kill)
qemu_of() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' 2> /dev/null < "$f" | grep -q -- "-name netns-conform-vm-$1 " && return 0
  done
  return 1
}

# gone NAME SUP SUPSTART JAN JANSTART QEMU QEMUSTART: nothing of the guest is left
gone() {
  local n=$1
  shift
  ! alive "$1" "$2" && ! alive "$3" "$4" && ! alive "$5" "$6" && [[ ! -e $root/$n ]] &&
    ! qemu_of "$n"
}

declare -a started=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local n p
  for n in "${started[@]}"; do
    if [[ -e $root/$n/meta.json ]]; then
      "$nc" vm stop "$n" > /dev/null 2>&1 || true
    fi
    if [[ -f $out/$n.pids ]]; then
      read -r -a p < "$out/$n.pids"
      alive "${p[0]}" "${p[1]}" && kill -KILL "${p[0]}"
      alive "${p[4]}" "${p[5]}" && kill -KILL "${p[4]}"
    fi
  done
  return 0
}
trap cleanup EXIT

# start NAME: `vm start`; records its pids in $out/NAME.pids; sets start_s.
start() {
  local t0 status
  started+=("$1")
  t0=$(now)
  "$nc" vm start "$1" --vm "$kernel" > "$out/$1.start.out" 2> "$out/$1.start.err"
  status=$?
  start_s=$(elapsed "$t0" "$(now)")
  cat "$out/$1.start.out"
  if [[ $status -ne 0 ]]; then
    check "vm start $1" 1 "exit $status: $(tail -n 3 "$out/$1.start.err")"
    return 1
  fi
  pids "$1" > "$out/$1.pids"
  check "vm start $1 (${start_s}s)" 0
}

# one_line_exit2 DESCRIPTION REGEX COMMAND...: exit 2 and one stderr line matching REGEX
one_line_exit2() {
  local desc=$1 pattern=$2 status lines
  shift 2
  "$@" > "$out/bad.out" 2> "$out/bad.err"
  status=$?
  lines=$(wc -l < "$out/bad.err")
  [[ $status -eq 2 && $lines -eq 1 ]] && grep -Eq "$pattern" "$out/bad.err"
  check "$desc" $? "exit $status, $lines lines: $(head -c 300 "$out/bad.err")"
}

# check_run DIR RUN-NUMBER STATUS [SANDBOX]: valid reports of an attached run (or, with SANDBOX
# "vm", of a one-shot run), Refund.* PASS, the exit status as the verdicts say, and the cases
# that SKIP the same as in run 1 where both ran them.
check_run() {
  bash "$script_dir/validate_reports.sh" "$1" "$schema" > "$1.validate" 2>&1
  check "$1: reports valid" $? "$(tail -n 5 "$1.validate")"
  python3 - "$1/results.json" "$name" "$2" "$3" "${4:-vm-reuse}" "$out/run1/results.json" << 'PY'
import json, os, sys
path, guest, number, status, sandbox, first = sys.argv[1:7]
run = json.load(open(path))
env = run["environment"]
bad = []
if env["sandbox"] != sandbox: bad.append("sandbox is %r" % env["sandbox"])
if sandbox == "vm-reuse":
    if env.get("vm_guest") != guest: bad.append("vm_guest is %r" % env.get("vm_guest"))
    if env.get("vm_guest_run") != int(number):
        bad.append("vm_guest_run is %r" % env.get("vm_guest_run"))
for key in ("vm_kernel", "accelerator", "machine", "boot_s"):
    if key not in env: bad.append("environment lacks " + key)
if env.get("kernel_problems"): bad.append("kernel problems: %s" % env["kernel_problems"])
refund = [c for c in run["cases"] if c["id"].startswith("Refund.")]
if not refund: bad.append("no Refund.* cases ran")
for c in refund:
    if c["status"] != "PASS":
        bad.append("%s is %s: %s" % (c["id"], c["status"], c.get("reason", "")[:300]))
failing = [c["id"] for c in run["cases"] if c["status"] not in ("PASS", "SKIP")]
# Failing cases are the suite's business (the VM run test judges them); here they must only
# agree with the exit status.
if int(status) != (1 if failing else 0): bad.append("exit status %s with %d failing" % (status, len(failing)))
if path != first and os.path.exists(first):
    before = {c["id"]: c["status"] for c in json.load(open(first))["cases"]}
    for c in run["cases"]:
        if c["id"] in before and (c["status"] == "SKIP") != (before[c["id"]] == "SKIP"):
            bad.append("%s: %s here, %s in run 1: %s" % (c["id"], c["status"], before[c["id"]],
                                                          c.get("reason", "")[:200]))
for line in bad: print("  ", line)
print("  %d cases (%d not PASS/SKIP), %d Refund.* PASS, run %s on guest %s" % (
    len(run["cases"]), len(failing), sum(c["status"] == "PASS" for c in refund),
    env.get("vm_guest_run"), env.get("vm_guest")))
sys.exit(1 if bad else 0)
PY
  check "$1: run $2, Refund.* PASS" $?
}

attach() {  # attach DIR [RUNNER ARGS]: sets attach_s and attach_status
  local t0 dir=$1
  shift
  t0=$(now)
  "$nc" run --attach "$name" --out "$dir" "$@" > "$dir.out" 2> "$dir.err"
  attach_status=$?
  attach_s=$(elapsed "$t0" "$(now)")
  tail -n 3 "$dir.err"
}

# --- 1. start, two runs, list, interrupted run, stop -------------------------------------------
if start "$name"; then
  guest_start_s=$start_s
  read -r -a p < "$out/$name.pids"
  one_line_exit2 "a second start of $name is refused" "already running" \
    "$nc" vm start "$name" --vm "$kernel"
  alive "${p[4]}" "${p[5]}"
  check "the refused start left the first guest alone" $?

  attach "$out/run1"
  run1_s=$attach_s
  check_run "$out/run1" 1 "$attach_status"
  attach "$out/run2" "${subset[@]}"
  run2_s=$attach_s
  check_run "$out/run2" 2 "$attach_status"
  alive "${p[4]}" "${p[5]}"
  check "the same qemu (pid ${p[4]}) served both runs" $?
  # The same subset booting a guest of its own: what reuse saves.
  t0=$(now)
  "$nc" run --vm "$kernel" --out "$out/oneshot" "${subset[@]}" > "$out/oneshot.out" 2> "$out/oneshot.err"
  oneshot_status=$?
  oneshot_s=$(elapsed "$t0" "$(now)")
  check_run "$out/oneshot" 0 "$oneshot_status" vm
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" \
    "$run2_s" "$oneshot_s"
  check "run 2 attached (${run2_s}s) faster than the same cases with a boot (run --vm: ${oneshot_s}s)" $?

  "$nc" vm list > "$out/list.txt" 2>&1
  cat "$out/list.txt"
  grep -Eq "^$name +ready +$kernel .* ${p[0]} +${p[4]} .* 2 " "$out/list.txt"
  check "vm list shows $name (ready, kernel, pids, 2 runs)" $?
  "$nc" vm list --json > "$out/list.json"
  python3 -c "
import json, sys
g = [g for g in json.load(open(sys.argv[1])) if g['name'] == sys.argv[2]]
sys.exit(0 if g and g[0]['runs'] == 2 and g[0]['uptime_s'] > 0 else 1)" "$out/list.json" "$name"
  check "vm list --json: runs 2, uptime" $?

  # An interrupted attach: the guest's runner is asked to stop, the reports are still written,
  # and the guest takes the next run.
  t0=$(now)
  "$nc" run --attach "$name" --out "$out/run3" > "$out/run3.out" 2> "$out/run3.err" &
  attach_pid=$!
  wait_for 60 grep -q "^vm: run 3 on guest" "$out/run3.err"
  check "run 3 accepted" $?
  kill -INT "$attach_pid"
  wait "$attach_pid"
  run3_status=$?
  run3_s=$(elapsed "$t0" "$(now)")
  bash "$script_dir/validate_reports.sh" "$out/run3" "$schema" > "$out/run3.validate" 2>&1
  check "interrupted run 3 (exit $run3_status): reports valid" $? "$(tail -n 5 "$out/run3.validate")"
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) / 2 else 1)" \
    "$run3_s" "$run1_s"
  check "the interrupted run was cut short (${run3_s}s)" $?
  attach "$out/run4" "${subset[@]}"
  check_run "$out/run4" 4 "$attach_status"

  t0=$(now)
  "$nc" vm stop "$name" > "$out/stop.out" 2> "$out/stop.err"
  stop_status=$?
  stop_s=$(elapsed "$t0" "$(now)")
  cat "$out/stop.out"
  check "vm stop $name (${stop_s}s)" $stop_status "$(cat "$out/stop.err")"
  gone "$name" "${p[@]}"
  check "after vm stop: no supervisor, janitor, qemu, state folder" $?
  [[ -z $(find "$(dirname "$root")" -name '*.sock' 2> /dev/null) ]]
  check "after vm stop: no socket left" $?
  "$nc" vm list > "$out/list2.txt" 2>&1
  ! grep -q "^$name " "$out/list2.txt"
  check "vm list no longer shows $name" $?
  echo "numbers: vm start ${guest_start_s}s; run 1 (all cases) ${run1_s}s; run 2 (subset)" \
    "${run2_s}s vs run --vm of the subset ${oneshot_s}s; interrupted run 3 ${run3_s}s;" \
    "vm stop ${stop_s}s"
fi

# --- 2. bad input ------------------------------------------------------------------------------
one_line_exit2 "attach to a guest that is not running" "no guest named nosuch-$$ is running" \
  "$nc" run --attach "nosuch-$$" --out "$out/nosuch"
one_line_exit2 "stop a guest that is not running" "no guest named nosuch-$$ is running" \
  "$nc" vm stop "nosuch-$$"
one_line_exit2 "start a bad name" "bad guest name" "$nc" vm start "../x" --vm "$kernel"
one_line_exit2 "start without a kernel" "needs --vm" "$nc" vm start "x-$$"

# A boot that hangs (a boot timeout far below the boot time): killed, retried once, exit 2 with
# the reason on the last line, and nothing left.
"$nc" vm start "$name-h" --vm "$kernel" --vm-boot-timeout 1 > "$out/hang.out" 2> "$out/hang.err"
status=$?
[[ $status -eq 2 ]] && tail -n 1 "$out/hang.err" | grep -q "did not start: the guest did not boot: no boot marker within 1 s, 2 times"
check "a guest that does not boot in time: exit 2, the reason" $? "exit $status: $(tail -n 1 "$out/hang.err")"
[[ ! -e $root/$name-h ]] && ! qemu_of "$name-h"
check "a guest that does not boot in time leaves nothing" $?

# --- 3. crashes --------------------------------------------------------------------------------
# `vm start` SIGKILLed while the guest boots: the supervisor sees its starter go and gives up.
# The boot is frozen (qemu SIGSTOPped) as soon as it shows, so that `vm start` cannot finish
# first on a fast boot; a start that still won the race is stopped and the scenario tried again.
# shellcheck disable=SC2317  # invoked through wait_for
booting() {  # qemu started: its socket is there and meta.json names it
  [[ -e $root/$1/guest.sock ]] && read -r -a q <<< "$(pids "$1" 2> /dev/null)" && [[ ${q[4]:-0} != 0 ]]
}
caught=no
for attempt in 1 2 3; do
  "$nc" vm start "$name-k" --vm "$kernel" > "$out/$name-k.out" 2>&1 &
  starter=$!
  started+=("$name-k")
  if ! wait_for 60 booting "$name-k"; then
    kill -KILL "$starter" 2> /dev/null
    wait "$starter" 2> /dev/null
    break
  fi
  read -r -a p <<< "$(pids "$name-k")"
  kill -STOP "${p[4]}"
  if kill -KILL "$starter" 2> /dev/null; then
    wait "$starter" 2> /dev/null
    kill -CONT "${p[4]}" 2> /dev/null
    caught=yes
    break
  fi
  # `vm start` had already returned: the guest is up; stop it and try again.
  kill -CONT "${p[4]}"
  wait "$starter" 2> /dev/null
  "$nc" vm stop "$name-k" > /dev/null 2>&1
  echo "  (attempt $attempt: the guest was ready before the kill; again)"
done
if [[ $caught == yes ]]; then
  wait_for 30 gone "$name-k" "${p[@]}"
  check "vm start SIGKILLed while booting: the guest goes, nothing left" $?
else
  check "vm start SIGKILLed while booting: caught it booting within 3 attempts" 1
fi

if start "$name-q"; then
  read -r -a p < "$out/$name-q.pids"
  kill -KILL "${p[4]}"
  wait_for 20 gone "$name-q" "${p[@]}"
  check "qemu SIGKILLed: supervisor, janitor, qemu and state folder gone by themselves" $?
fi
if start "$name-s"; then
  read -r -a p < "$out/$name-s.pids"
  kill -KILL "${p[0]}"
  wait_for 20 gone "$name-s" "${p[@]}"
  check "supervisor SIGKILLed: qemu, janitor and state folder gone by themselves" $?
fi

# --- the host ----------------------------------------------------------------------------------
[[ -z $(ls -A "$root" 2> /dev/null) ]]
check "no state left under $root" $?
[[ $had_run_netns == yes || ! -e /run/netns ]] && [[ $had_etc_netns == yes || ! -e /etc/netns ]]
check "no /run/netns or /etc/netns made on the host" $?
for n in "${started[@]}"; do
  ! qemu_of "$n" || {
    check "no qemu of $n left" 1
  }
done

echo "$failures failure(s)"
exit $((failures > 0 ? 1 : 0))
