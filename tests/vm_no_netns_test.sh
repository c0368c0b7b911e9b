#!/bin/bash
# The no-netns kernel (vm/kernel_build.h): builds it from Debian's linux-source package on first
# use (cached in $NETNS_CONFORM_CACHE, default /var/cache/netns-conform, afterwards), boots it
# under qemu, runs the whole suite in the guest through netns-conform-vm-probe, and checks:
#   - a second build is instant (the cache key matched), and the built config lacks CONFIG_NET_NS;
#   - the run completed and results.json came back over the result channel;
#   - CloneErrors.NewnetFollowsConfigNetNs and ConfigNetNs.NamespacesUsableExactlyWithConfigNetNs
#     PASS (EINVAL from clone/unshare/clone3 with CLONE_NEWNET, no /proc/self/ns/net);
#   - every other case SKIPs, saying the kernel has no network namespaces: none FAILs, ERRORs,
#     TIMEOUTs or is MISSed;
#   - the guest kernel reported no panic, BUG, WARNING or Oops;
#   - nothing is left behind: no qemu of this run, no work folder, no /run/netns or /etc/netns.
# The first build takes long (see vm/README.md); NETNS_CONFORM_NO_KERNEL_BUILD=1 turns a missing
# kernel into a SKIP (exit 77) instead of building it.
# usage: vm_no_netns_test.sh PROBE BIN_FOLDER OUT_FOLDER
# Prints one PASS/FAIL line per check; exits 1 when a check fails, 2 on a usage error.
set -uo pipefail

if [[ $# -lt 3 || ! -x $1 || ! -d $2 ]]; then
  echo "usage: $0 PROBE BIN_FOLDER OUT_FOLDER" >&2
  exit 2
fi
probe=$1
bin=$2
out=$3
if [[ $(id -u) -ne 0 ]]; then
  echo "vm_no_netns_test: must run as root (kernel cache in /var/cache, namespaces in the guest)" >&2
  exit 2
fi
cache=${NETNS_CONFORM_CACHE:-/var/cache/netns-conform}

# shellcheck source=vm_probe_prologue.sh
source "$(dirname "$0")/vm_probe_prologue.sh"

if [[ ${NETNS_CONFORM_NO_KERNEL_BUILD:-} == 1 && ! -e $cache/kernels/no-netns/kernel.json ]]; then
  echo "SKIP the no-netns kernel is not built and NETNS_CONFORM_NO_KERNEL_BUILD=1"
  exit 77
fi

# The build (or the cached kernel), then the same again: the second must come from the cache.
start=$(date +%s)
"$probe" --build-kernel no-netns > "$out/build1.txt" 2> "$out/build1.stderr"
status=$?
cat "$out/build1.stderr" "$out/build1.txt"
check "the no-netns kernel builds (or is cached) ($(($(date +%s) - start)) s, exit $status)" "$status"
if [[ $status -ne 0 ]]; then
  exit 1
fi
start=$(date +%s)
"$probe" --build-kernel no-netns > "$out/build2.txt" 2> "$out/build2.stderr"
status=$?
elapsed=$(($(date +%s) - start))
cat "$out/build2.txt"
check "a second build comes from the cache (${elapsed} s)" \
  "$([[ $status -eq 0 && $elapsed -le 10 ]] && grep -q 'already built' "$out/build2.txt"; echo $?)"
config=$(awk '/^  config /{print $2}' "$out/build2.txt")
check "its config ($config) exists and lacks CONFIG_NET_NS" \
  "$([[ -s $config ]] && grep -qx '# CONFIG_NET_NS is not set' "$config" &&
    ! grep -q '^CONFIG_NET_NS=' "$config"; echo $?)"

"$probe" --vm no-netns --suite-dir "$bin" --out "$out/run" --json > "$out/probe.json" \
  2> "$out/probe.stderr"
status=$?
cat "$out/probe.stderr" >&2

python3 - "$out/probe.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
probe = json.loads(text) if text.strip() else {}
print("measured: boot %.2f s (guest clock %.2f s), runner started at %.2f s, qemu %.2f s, "
      "machine %s, %s, kernel %s" % (
      probe.get("boot_s", 0), probe.get("guest_uptime_at_init_s", 0),
      probe.get("runner_start_s", 0), probe.get("qemu_s", 0), probe.get("machine"),
      probe.get("accelerator"), probe.get("kernel_release")))
s = probe.get("summary")
if s:
    print("summary: %d cases: %d passed, %d failed, %d skipped, %d errors, %d timeouts, %d missed"
          % (s["total"], s["passed"], s["failed"], s["skipped"], s["errors"], s["timeouts"],
             s["missed"]))
PY

outcome=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("outcome",""))' \
  "$out/probe.json" 2>/dev/null)
check "the guest run completed ($outcome, probe exit $status)" "$([[ $outcome == completed ]]; echo $?)"
check "results.json came back" "$([[ -s $out/run/results.json ]]; echo $?)"

python3 - "$out/run/results.json" > "$out/verdict.txt" <<'PY'
import json, sys
try:
    run = json.load(open(sys.argv[1]))
except Exception as e:
    print("unreadable %s" % e)
    sys.exit(0)
# The cases about CONFIG_NET_NS itself: they run (and must PASS) on this kernel too.
config_cases = ("CloneErrors.NewnetFollowsConfigNetNs",
                "ConfigNetNs.NamespacesUsableExactlyWithConfigNetNs")
for c in run.get("cases", []):
    if c["id"] in config_cases:
        print("config-case %s %s %s" % (c["id"], c["status"], c.get("reason", "").splitlines()[:1]))
    elif c["status"] != "SKIP":
        print("bad %s %s: %s" % (c["id"], c["status"], c.get("reason", "")))
    elif "kernel has no network namespaces" not in c.get("reason", ""):
        print("bad-reason %s: %s" % (c["id"], c.get("reason", "")))
    else:
        print("skip %s" % c["id"])
PY
grep -v '^skip ' "$out/verdict.txt"
skips=$(grep -c '^skip ' "$out/verdict.txt")
check "the CONFIG_NET_NS cases (2) PASS" \
  "$([[ $(grep -c '^config-case [^ ]* PASS' "$out/verdict.txt") -eq 2 ]]; echo $?)"
check "every other case SKIPs (${skips} did)" "$(! grep -q '^bad ' "$out/verdict.txt"; echo $?)"
check "each SKIP says the kernel has no network namespaces" \
  "$(! grep -q '^bad-reason ' "$out/verdict.txt"; echo $?)"

# shellcheck source=vm_probe_epilogue.sh
source "$(dirname "$0")/vm_probe_epilogue.sh"
