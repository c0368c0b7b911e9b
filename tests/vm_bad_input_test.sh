#!/bin/bash
# Bad input to the VM sandbox, through netns-conform-vm-probe: each must give one line on stderr,
# exit status 2, and leave no qemu process behind.
#   - an unknown kernel name; a kernel path that does not exist; a file that is not a kernel;
#   - a guest that panics at boot (rdinit= names no init): MISS, the panic reported;
#   - a guest that never boots in time (a boot timeout far below the boot time): killed,
#     retried once, MISS with the console tail;
#   - a runner in the guest that rejects its arguments: no results.json, its reason reported.
# Uses the cached debian-6.1-cloud (fetched on first use).
# usage: vm_bad_input_test.sh PROBE BIN_FOLDER OUT_FOLDER
set -uo pipefail

if [[ $# -ne 3 || ! -x $1 || ! -d $2 ]]; then
  echo "usage: $0 PROBE BIN_FOLDER OUT_FOLDER" >&2
  exit 2
fi
probe=$1
bin=$2
out=$3
rm -rf "$out"
mkdir -p "$out"

# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# expect NAME EXPECTED-STDERR-REGEX PROBE-ARGS...
expect() {
  local name=$1 pattern=$2
  shift 2
  "$probe" "$@" > "$out/$name.stdout" 2> "$out/$name.stderr"
  local status=$?
  local first
  first=$(head -n 1 "$out/$name.stderr")
  check "$name: exit status 2 (got $status)" "$([[ $status -eq 2 ]]; echo $?)"
  check "$name: says /$pattern/ (said: $first)" "$(grep -Eq "$pattern" "$out/$name.stderr"; echo $?)"
  check "$name: no qemu left" "$(! pgrep -f "qemu-system-x86_64.*$out/" > /dev/null; echo $?)"
}

expect unknown-name "unknown kernel 'debian-0.1'" --vm debian-0.1 --suite-dir "$bin" --out "$out/a"
check "unknown-name: one line" "$([[ $(wc -l < "$out/unknown-name.stderr") -eq 1 ]]; echo $?)"
expect missing-kernel "no such file" --vm-kernel "$out/nope" --suite-dir "$bin" --out "$out/b"
expect not-a-kernel "is not a Linux kernel" --vm-kernel /etc/hostname --suite-dir "$bin" --out "$out/c"
expect guest-panics "Kernel panic" --vm debian-6.1-cloud --suite-dir "$bin" --out "$out/d" \
  --cmdline "rdinit=/no-such-init"
expect never-boots "did not boot: no boot marker within 0.3 s, 2 times" --vm debian-6.1-cloud \
  --suite-dir "$bin" --out "$out/e" --boot-timeout 0.3
expect runner-fails "runner in the guest exited with status 2 without writing results.json.*matches no case" \
  --vm debian-6.1-cloud --suite-dir "$bin" --out "$out/f" --filter 'NoSuchSuite.*'
check "never-boots: the first attempt's console is kept" \
  "$([[ -e $out/e/vm/console.attempt1.log ]]; echo $?)"
check "no work folders are left" "$(! compgen -G "$out/*/vm/.work-*" > /dev/null; echo $?)"
exit $((failures > 0))
