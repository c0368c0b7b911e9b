# Sourced at the end of the tests that run the suite in a guest through netns-conform-vm-probe
# (vm_smoke_test.sh, vm_no_netns_test.sh): the checks every such run ends with, then the exit.
# Needs from the caller: check(), $failures, $out (the probe ran with --out "$out/run" and wrote
# "$out/probe.json"), $run_netns_before and $etc_netns_before (from vm_probe_prologue.sh).
problems=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("kernel_problems",[])))' \
  "$out/probe.json" 2>/dev/null)
check "the guest kernel reported no panic/BUG/WARNING/Oops" "$([[ ${problems:-1} -eq 0 ]]; echo $?)"

check "no qemu of this run is left" "$(! pgrep -f "qemu-system-x86_64.*$out/run" > /dev/null; echo $?)"
check "no work folder is left" "$(! compgen -G "$out/run/vm/.work-*" > /dev/null; echo $?)"
check "/run/netns on the host is as before ($run_netns_before)" \
  "$([[ $([[ -e /run/netns ]] && echo yes || echo no) == "$run_netns_before" ]]; echo $?)"
check "/etc/netns on the host is as before ($etc_netns_before)" \
  "$([[ $([[ -e /etc/netns ]] && echo yes || echo no) == "$etc_netns_before" ]]; echo $?)"

if [[ $failures -ne 0 ]]; then
  echo "--- console tail ($out/run/vm/console.log) ---"
  tail -n 40 "$out/run/vm/console.log" 2>/dev/null
  exit 1
fi
exit 0
