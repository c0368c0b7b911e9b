# Sourced at the start of the tests that run the suite in a guest through netns-conform-vm-probe
# (vm_smoke_test.sh, vm_no_netns_test.sh), after $out is set: tests/checks.sh (check() and
# $failures), what the host had before the run (read again by vm_probe_epilogue.sh), and a fresh
# $out.
# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

run_netns_before=$([[ -e /run/netns ]] && echo yes || echo no)
etc_netns_before=$([[ -e /etc/netns ]] && echo yes || echo no)
rm -rf "$out"
mkdir -p "$out"
