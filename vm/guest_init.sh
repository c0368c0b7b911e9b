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
exec 3>"$port"
echo "NCVM 1 BOOTED uptime=$(up) release=$(uname -r)" >&3
say "booted, $(up) s after the kernel started"

load $CONF/modules.run
# The refund case that renames the lent device onto a taken name needs a second device in the
# initial netns to clash with; the dummy module makes dummy0 by itself, a built-in one may not.
ip link show dummy0 >/dev/null 2>&1 || ip link add dummy0 type dummy 2>/dev/null

# The guest's NIC (on an isolated qemu hub): the first device with a bus device behind it. It
# is DOWN and has no addresses; the runner lends it to the device-refund cases.
nic=
for n in /sys/class/net/*; do
  name=${n##*/}
  [ "$name" != lo ] && [ -e "$n/device" ] && { nic=$name; break; }
done

set --
if [ -f $CONF/run.args ]; then
  while IFS= read -r a; do set -- "$@" "$a"; done < $CONF/run.args
fi
# Without network namespaces (a CONFIG_NET_NS=n kernel) there is nothing to lend the NIC to:
# the refund cases SKIP for want of netns, and the runner could not open the initial netns.
[ -e /proc/self/ns/net ] || nic=
[ -n "$nic" ] && set -- --spare-nic "$nic" "$@"
mkdir -p /results
echo "NCVM 1 RUNNING uptime=$(up) nic=${nic:--}" >&3

mkfifo /tmp/journal.fifo
tail -F /results/journal.jsonl > /tmp/journal.fifo 2>/dev/null &
tail_pid=$!
while IFS= read -r line; do echo "J $line" >&3; done < /tmp/journal.fifo &
reader_pid=$!

kconfig=
[ -f $CONF/kconfig ] && kconfig=$CONF/kconfig
{
  NETNS_CONFORM_DISPOSABLE_HOST=1 NETNS_CONFORM_KCONFIG=$kconfig \
    /opt/netns-conform/bin/netns-conform run --out /results "$@"
  echo $? > /tmp/runner.status
} 2>&1 | tee /tmp/runner.log > /dev/console
status=$(cat /tmp/runner.status 2>/dev/null || echo 2)

kill "$tail_pid" 2>/dev/null
wait "$reader_pid" 2>/dev/null

send() {  # send KIND FILE [more key=value]
  echo "NCVM 1 $1 size=$(wc -c < "$2")${3:+ $3}" >&3
  cat "$2" >&3
}
dmesg > /tmp/dmesg.txt
send DMESG /tmp/dmesg.txt
send RUNLOG /tmp/runner.log
tar -C /results -cf /tmp/results.tar . || say "tar of /results failed"
send RESULTS /tmp/results.tar "status=$status"
echo "NCVM 1 END" >&3
exec 3>&-
say "done (runner exit status $status), powering off"
poweroff -f
