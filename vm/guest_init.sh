#!/bin/sh
# /init of the netns-conform guest: busybox sh as PID 1 of a disposable qemu guest.
# Mounts what the suite needs, loads the modules, runs `netns-conform run` lending it the guest's
# NIC, sends the results folder down the virtio-serial port "netns-conform.results", powers off.
#
# The port carries text lines, some followed by raw bytes (vm/channel.h reads them):
#   NCVM 1 BOOTED uptime=<s> release=<uname -r>
#   NCVM 1 RUNNING uptime=<s> nic=<ifname|->
#   J <journal.jsonl line>                      (as cases finish: survives a guest that dies)
#   NCVM 1 DMESG size=<n>                       + n bytes
#   NCVM 1 RUNLOG size=<n>                      + n bytes (the runner's own output)
#   NCVM 1 RESULTS size=<n> status=<exit>       + n bytes: tar of the results folder
#   NCVM 1 END
# Anything that goes wrong is said on the console (the host keeps it as a log) before powering
# off; the host reports a guest that stops without END.
#
# Serve mode (/etc/netns-conform/serve, the reuse sandbox of vm/reuse.h): the port is a unix
# socket on the host, read and written by the guest's supervisor, and the guest runs the suite
# on request instead of once:
#   guest: NCVM 1 BOOTED ...; modules for the run loaded; NCVM 1 READY uptime=<s>
#   host:  NCVM 1 RUN run=<n> argc=<k>, then k lines (one runner argument each)
#   guest: NCVM 1 RUNNING ... run=<n>, J lines, DMESG (dmesg -c: what the kernel said since the
#          last run), RUNLOG, RESULTS, END: as above; then waits for the next request
#   host:  NCVM 1 ABORT (during a run: SIGTERM to the runner, which still reports)
#   host:  NCVM 1 POWEROFF (between runs), or the host closes the socket: the guest powers off
export PATH=/bin:/sbin
PORT_NAME=netns-conform.results
CONF=/etc/netns-conform

say() { echo "netns-conform-init: $*" > /dev/console; }
up() { read -r u _ < /proc/uptime; echo "$u"; }
die() { say "FATAL: $*"; sync; poweroff -f; sleep 5; }
load() {  # one absolute module path a line, dependencies first
  [ -f "$1" ] || return 0
  while read -r m; do
    [ -n "$m" ] || continue
    insmod "$m" 2>/tmp/insmod.err || say "insmod $m: $(cat /tmp/insmod.err)"
  done < "$1"
}

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
# Without ACPI (the no-netns kernel) `poweroff -f` only halts the CPUs and qemu would wait for
# the host's watchdog; a reset ends qemu as well (-no-reboot), and a triple fault needs no device.
if [ ! -d /sys/firmware/acpi ]; then
  poweroff() { echo triple > /sys/kernel/reboot/type 2>/dev/null; reboot "$@"; }
fi
if ! mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev 2>/dev/null; then
  mount -t tmpfs -o mode=0755,nosuid tmpfs /dev && mdev -s
fi
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
hostname netns-conform-vm

load $CONF/modules.boot
port=
i=0
while [ $i -lt 250 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] && [ "$(cat "$p/name")" = "$PORT_NAME" ] && port=/dev/${p##*/}
  done
  [ -n "$port" ] && [ -c "$port" ] && break
  port=
  usleep 20000
  i=$((i + 1))
done
[ -n "$port" ] || die "no virtio-serial port named $PORT_NAME (is virtio_console missing?)"
serve=
[ -f $CONF/serve ] && serve=1
if [ -n "$serve" ]; then
  exec 3<>"$port"  # requests come in on the same port
else
  exec 3>"$port"
fi
echo "NCVM 1 BOOTED uptime=$(up) release=$(uname -r)" >&3
say "booted, $(up) s after the kernel started"

load $CONF/modules.run
# The refund case that renames the lent device onto a taken name needs a second device in the
# initial netns to clash with; the dummy module makes dummy0 by itself, a built-in one may not.
ip link show dummy0 >/dev/null 2>&1 || ip link add dummy0 type dummy 2>/dev/null

kconfig=
[ -f $CONF/kconfig ] && kconfig=$CONF/kconfig

# The guest's NIC (on an isolated qemu hub): the first device with a bus device behind it. It
# is DOWN and has no addresses; the runner lends it to the device-refund cases. Looked up before
# every run: a run that was killed may have left it renamed.
find_nic() {
  nic=
  for n in /sys/class/net/*; do
    name=${n##*/}
    [ "$name" != lo ] && [ -e "$n/device" ] && { nic=$name; break; }
  done
  # Without network namespaces (a CONFIG_NET_NS=n kernel) there is nothing to lend the NIC to:
  # the refund cases SKIP for want of netns, and the runner could not open the initial netns.
  [ -e /proc/self/ns/net ] || nic=
}

# Serve mode: the NIC as the guest booted with it. A run may end while a netns holding it is
# still being freed (the kernel returns the device asynchronously, slower under TCG), or with
# it renamed: before each run, wait for it to be back in the initial netns, under its boot name.
boot_nic=
boot_mac=
if [ -n "$serve" ]; then
  find_nic
  boot_nic=$nic
  [ -n "$nic" ] && boot_mac=$(cat "/sys/class/net/$nic/address")
fi
nic_by_mac() {
  for n in /sys/class/net/*; do
    [ -e "$n/device" ] && [ "$(cat "$n/address" 2>/dev/null)" = "$1" ] && { echo "${n##*/}"; return; }
  done
}
settle_nic() {
  nic=
  [ -n "$boot_mac" ] || return 0
  i=0
  while [ $i -lt 500 ]; do
    nic=$(nic_by_mac "$boot_mac")
    [ -n "$nic" ] && break
    usleep 20000
    i=$((i + 1))
  done
  if [ -z "$nic" ]; then
    say "$boot_nic ($boot_mac) is not back in the initial netns after 10 s: this run goes without it"
    return 0
  fi
  if [ "$nic" != "$boot_nic" ]; then
    ip link set dev "$nic" name "$boot_nic" 2>/dev/null && nic=$boot_nic
  fi
  # A run may have removed it; the rename-on-clash case needs it.
  ip link show dummy0 >/dev/null 2>&1 || ip link add dummy0 type dummy 2>/dev/null
}

send() {  # send KIND FILE [more key=value]
  echo "NCVM 1 $1 size=$(wc -c < "$2")${3:+ $3}" >&3
  cat "$2" >&3
}

# run_suite OUT RUNNING-FIELDS [runner arguments]: one run of the suite into OUT, everything
# from RUNNING to END on the port. Sets $status.
run_suite() {
  out=$1 fields=$2
  shift 2
  if [ -n "$serve" ]; then settle_nic; else find_nic; fi
  [ -e /proc/self/ns/net ] || nic=
  [ -n "$nic" ] && set -- --spare-nic "$nic" "$@"
  rm -rf "$out" /tmp/journal.fifo /tmp/runner.status /tmp/runner.pid /tmp/runner.abort
  mkdir -p "$out"
  echo "NCVM 1 RUNNING uptime=$(up) nic=${nic:--}${fields:+ $fields}" >&3

  mkfifo /tmp/journal.fifo
  tail -F "$out/journal.jsonl" > /tmp/journal.fifo 2>/dev/null &
  tail_pid=$!
  while IFS= read -r line; do echo "J $line" >&3; done < /tmp/journal.fifo &
  reader_pid=$!
  # Serve mode: the host may ask to abort the run; the runner still writes its reports.
  abort_pid=
  if [ -n "$serve" ]; then
    while IFS= read -r req <&3; do
      [ "$req" = "NCVM 1 ABORT" ] || continue
      : > /tmp/runner.abort  # in case the runner is not started yet
      kill -TERM "$(cat /tmp/runner.pid 2>/dev/null)" 2>/dev/null
    done &
    abort_pid=$!
  fi

  {
    NETNS_CONFORM_DISPOSABLE_HOST=1 NETNS_CONFORM_KCONFIG=$kconfig \
      /opt/netns-conform/bin/netns-conform run --out "$out" "$@" &
    echo $! > /tmp/runner.pid
    [ -e /tmp/runner.abort ] && kill -TERM $!
    wait $!
    echo $? > /tmp/runner.status
  } 2>&1 | tee /tmp/runner.log > /dev/console
  status=$(cat /tmp/runner.status 2>/dev/null || echo 2)

  # Before END: the host sends its next request only after END, and it is for the main loop.
  if [ -n "$abort_pid" ]; then
    kill "$abort_pid" 2>/dev/null
    wait "$abort_pid" 2>/dev/null
  fi
  kill "$tail_pid" 2>/dev/null
  wait "$reader_pid" 2>/dev/null

  if [ -n "$serve" ]; then dmesg -c > /tmp/dmesg.txt; else dmesg > /tmp/dmesg.txt; fi
  send DMESG /tmp/dmesg.txt
  send RUNLOG /tmp/runner.log
  tar -C "$out" -cf /tmp/results.tar . || say "tar of $out failed"
  send RESULTS /tmp/results.tar "status=$status"
  echo "NCVM 1 END" >&3
  rm -f /tmp/results.tar /tmp/dmesg.txt /tmp/runner.log
}

if [ -z "$serve" ]; then
  set --
  if [ -f $CONF/run.args ]; then
    while IFS= read -r a; do set -- "$@" "$a"; done < $CONF/run.args
  fi
  run_suite /results "" "$@"
  exec 3>&-
  say "done (runner exit status $status), powering off"
  poweroff -f
  sleep 5
fi

echo "NCVM 1 READY uptime=$(up)" >&3
say "serving runs, $(up) s after the kernel started"
# A read that returns nothing means the host side of the port went away: power off.
while IFS= read -r req <&3; do
  case $req in
    "NCVM 1 RUN "*)
      n=
      argc=
      for w in $req; do
        case $w in
          run=*) n=${w#run=} ;;
          argc=*) argc=${w#argc=} ;;
        esac
      done
      case "$n:$argc" in
        *[!0-9:]* | :* | *:) say "bad request: $req"; continue ;;
      esac
      set --
      i=0
      while [ "$i" -lt "$argc" ] && IFS= read -r a <&3; do
        set -- "$@" "$a"
        i=$((i + 1))
      done
      say "run $n: netns-conform run $*"
      run_suite "/results-$n" "run=$n" "$@"
      rm -rf "/results-$n"
      say "run $n done (runner exit status $status)"
      ;;
    "NCVM 1 POWEROFF") break ;;
    "NCVM 1 ABORT" | "") ;;
    *) say "unknown request: $req" ;;
  esac
done
exec 3>&-
say "powering off"
sync
poweroff -f
