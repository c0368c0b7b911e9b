# Sourced at the start of the tests that run the suite in a guest through netns-conform-vm-probe
# (vm_smoke_test.sh, vm_no_netns_test.sh), after $out is set: check() and $failures, what the host
# had before the run (read again by vm_probe_epilogue.sh), and a fresh $out.
failures=0
check() {  # check NAME CONDITION-EXIT-STATUS [DETAIL]
  if [[ $2 -eq 0 ]]; then
    echo "PASS $1"
  else
    echo "FAIL $1${3:+: $3}"
    failures=$((failures + 1))
  fi
}

run_netns_before=$([[ -e /run/netns ]] && echo yes || echo no)
etc_netns_before=$([[ -e /etc/netns ]] && echo yes || echo no)
rm -rf "$out"
mkdir -p "$out"
