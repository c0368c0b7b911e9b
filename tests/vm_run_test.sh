#!/usr/bin/env bash
# `netns-conform run --vm debian-6.1-cloud --expect suites/known-kernel-deviations.json` end to end,
# as a user runs it: the kernel is fetched on first use, the whole suite runs in the guest, the
# device-refund cases PASS there (the guest's NIC is lent to them), the reports satisfy the schema
# with the VM environment recorded (the guest's probed features included), and the known kernel
# deviation (CVE-2026-31692's veth case) is XFAIL, so the run exits 0.
set -euo pipefail
bin=$1 out=$2 schema=$3
script_dir=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
status=0
"$bin/netns-conform" run --vm debian-6.1-cloud --out "$out" \
  --expect "$script_dir/../suites/known-kernel-deviations.json" || status=$?
echo "netns-conform run --vm --expect exited $status"
bash "$script_dir/validate_reports.sh" "$out" "$schema"
PYTHONPATH="$script_dir" python3 - "$out/results.json" "$status" <<'PY'
import json, sys
import known_deviations
run = json.load(open(sys.argv[1]))
env = run["environment"]
bad = []
if env["sandbox"] != "vm": bad.append("sandbox is %r, not 'vm'" % env["sandbox"])
for key in ("vm_kernel", "accelerator", "machine", "boot_s"):
    if key not in env: bad.append("environment lacks " + key)
# The guest's runner asked the suite for them; the host kept them when it rewrote the environment.
features = env.get("features", {})
if not features.get("net_ns"): bad.append("environment.features lacks net_ns: true: %r" % features)
if env.get("kernel_problems"): bad.append("kernel problems: %s" % env["kernel_problems"])
refund = [c for c in run["cases"] if c["id"].startswith("Refund.")]
if not refund: bad.append("no Refund.* cases ran")
for c in refund:
    if c["status"] != "PASS": bad.append("%s is %s: %s" % (c["id"], c["status"], c.get("reason", "")))
# Nothing fails but what the shipped expectations explain, and those are XFAIL with the entry.
unexpected, known = known_deviations.split_failures(run["cases"], env)
if unexpected: bad.append("not PASS/SKIP/XFAIL: " + ", ".join(unexpected))
if known: bad.append("FAIL although --expect explains them: " + ", ".join(known))
veth = [c for c in run["cases"] if c["id"] == "VethPair.PeerInNetnsWithoutCapNetAdminIsEperm"]
if not veth or veth[0]["status"] != "XFAIL":
    bad.append("the CVE-2026-31692 veth case is %s, not XFAIL" % (veth[0]["status"] if veth else "missing"))
elif "7b735ef81286" not in veth[0].get("expectation", {}).get("link", "") or \
        "VULNERABLE to CVE-2026-31692" not in veth[0]["reason"]:
    bad.append("the veth XFAIL lacks its expectation or its own reason: %r" % veth[0])
else:
    print("known kernel deviation, XFAIL on %s: %s" % (env["kernel_release"], veth[0]["id"]))
if run["summary"]["xfailed"] < 1: bad.append("summary.xfailed is %d" % run["summary"]["xfailed"])
if int(sys.argv[2]) != 0: bad.append("exit status %s, expected 0 (XFAIL does not fail a run)" % sys.argv[2])
for line in bad: print("FAIL:", line)
print("%d cases, %d refund cases PASS, boot %.2fs on %s/%s" % (
    len(run["cases"]), sum(c["status"] == "PASS" for c in refund), env.get("boot_s", 0),
    env.get("machine"), env.get("accelerator")))
sys.exit(1 if bad else 0)
PY
