#!/bin/sh
# An example of a user's own netns tool, described by netns-wrapper.json: named netns from
# util-linux's unshare/nsenter plus the ip-netns(8) run-folder conventions. Every argument is
# used quoted: a name is one word whatever characters it holds.
set -u
run_dir=/run/netns

fail() {
  echo "netns-wrapper: $*" >&2
  exit 1
}

[ $# -ge 1 ] || fail "usage: netns-wrapper.sh add|del|list|exec|version ..."
op=$1
shift
case $op in
version)
  echo "netns-wrapper 1.0 ($(unshare --version))"
  ;;
add)
  [ $# -eq 1 ] || fail "add NAME"
  case $1 in '' | . | .. | */*) echo "netns-wrapper: invalid name" >&2 && exit 2 ;; esac
  [ ${#1} -le 255 ] || { echo "netns-wrapper: name too long" >&2 && exit 2; }
  mkdir -p "$run_dir" || exit 1
  # The run folder a shared mount of its own, so names reach later mount namespaces.
  mountpoint -q "$run_dir" || mount --bind "$run_dir" "$run_dir" || exit 1
  mount --make-shared "$run_dir" || exit 1
  [ ! -e "$run_dir/$1" ] || fail "$run_dir/$1 exists"
  : >"$run_dir/$1" || exit 1
  unshare --net="$run_dir/$1" true || {
    rm -f "$run_dir/$1"
    exit 1
  }
  ;;
del)
  [ $# -eq 1 ] || fail "del NAME"
  [ -e "$run_dir/$1" ] || fail "no netns named $1"
  umount -l "$run_dir/$1" 2>/dev/null
  rm -f "$run_dir/$1"
  ;;
list)
  [ -d "$run_dir" ] && ls -1A "$run_dir"
  exit 0
  ;;
exec)
  [ $# -ge 2 ] || fail "exec NAME CMD..."
  name=$1
  shift
  exec nsenter --net="$run_dir/$name" -- "$@"
  ;;
*)
  fail "unknown operation $op"
  ;;
esac
