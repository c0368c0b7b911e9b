#!/bin/bash
# Boots a Debian kernel (default debian-6.1-cloud, fetched into the kernel cache on first use)
# under qemu, runs the whole suite in the guest through netns-conform-vm-probe, and checks:
#   - the run completed and results.json came back over the result channel;
#   - every Refund.* case PASSes (the guest NIC is lent to them): not SKIP, not FAIL;
#   - no case FAILs, ERRORs, TIMEOUTs or is MISSed, but for a known kernel deviation
#     (suites/known-kernel-deviations.json, applied as `run --expect` would) failing with its
#     reason_contains text;
#   - the guest kernel reported no panic, BUG, WARNING or Oops;
#   - nothing is left behind: no qemu of this run, no work folder, no /run/netns or /etc/netns
#     on the host that was not there before.
# usage: vm_smoke_test.sh PROBE BIN_FOLDER OUT_FOLDER [KERNEL_NAME]
# Prints one PASS/FAIL line per check; exits 1 when a check fails, 2 on a usage error.
set -uo pipefail

if [[ $# -lt 3 || ! -x $1 || ! -d $2 ]]; then
  echo "usage: $0 PROBE BIN_FOLDER OUT_FOLDER [KERNEL_NAME]" >&2
  exit 2
fi
probe=$1
bin=$2
out=$3
kernel=${4:-debian-6.1-cloud}
if [[ $(id -u) -ne 0 ]]; then
  echo "vm_smoke_test: must run as root (kernel cache in /var/cache, namespaces in the guest)" >&2
  exit 2
fi

# shellcheck source=vm_probe_prologue.sh
source "$(dirname "$0")/vm_probe_prologue.sh"

"$probe" --vm "$kernel" --suite-dir "$bin" --out "$out/run" --json > "$out/probe.json" \
  2> "$out/probe.stderr"
status=$?
cat "$out/probe.stderr" >&2
cat "$out/probe.json"

python3 - "$out/probe.json" "$out/run" <<'PY'
import json, sys
probe = json.load(open(sys.argv[1])) if open(sys.argv[1]).read().strip() else {}
print("measured: boot %.2f s (guest clock %.2f s), runner started at %.2f s, qemu %.2f s, "
      "initramfs %d KiB (%s), machine %s, %s" % (
      probe.get("boot_s", 0), probe.get("guest_uptime_at_init_s", 0),
      probe.get("runner_start_s", 0), probe.get("qemu_s", 0),
      probe.get("initramfs_bytes", 0) // 1024,
      "cached" if probe.get("initramfs_cached") else "built", probe.get("machine"),
      probe.get("accelerator")))
PY

outcome=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("outcome",""))' \
  "$out/probe.json" 2>/dev/null)
check "the guest run completed ($outcome, probe exit $status)" "$([[ $outcome == completed ]]; echo $?)"
check "results.json came back" "$([[ -s $out/run/results.json ]]; echo $?)"

PYTHONPATH="$(dirname "$0")" python3 - "$out/run/results.json" > "$out/verdict.txt" <<'PY'
import json, sys
import known_deviations
try:
    run = json.load(open(sys.argv[1]))
except Exception as e:
    print("unreadable %s" % e)
    sys.exit(0)
cases = run.get("cases", [])
refund = [c for c in cases if c["id"].startswith("Refund.")]
print("refund %d %s" % (len(refund), " ".join("%s=%s" % (c["id"], c["status"]) for c in refund)))
for c in refund:
    if c["status"] != "PASS":
        print("refund-not-pass %s %s: %s" % (c["id"], c["status"], c.get("reason", "")))
# A FAIL is accepted only as a known kernel deviation that an expectation of
# suites/known-kernel-deviations.json explains (the probe applies none itself).
unexpected, known = known_deviations.split_failures(cases, run.get("environment", {}))
for c in cases:
    if c["id"] in unexpected:
        print("bad %s %s: %s" % (c["id"], c["status"], c.get("reason", "")))
    elif c["id"] in known:
        print("known-deviation %s" % c["id"])
PY
cat "$out/verdict.txt"
refund_count=$(awk '/^refund /{print $2}' "$out/verdict.txt")
check "the Refund.* cases ran (${refund_count:-0} of them)" "$([[ ${refund_count:-0} -ge 3 ]]; echo $?)"
check "every Refund.* case PASSes" "$(! grep -q '^refund-not-pass' "$out/verdict.txt"; echo $?)"
check "no case FAILs, ERRORs, TIMEOUTs or is MISSed" "$(! grep -q '^bad ' "$out/verdict.txt"; echo $?)"

# shellcheck source=vm_probe_epilogue.sh
source "$(dirname "$0")/vm_probe_epilogue.sh"
