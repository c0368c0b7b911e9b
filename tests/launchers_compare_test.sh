#!/usr/bin/env bash
# The fork server and `--launcher exec` give the real suite the same verdicts: the whole suite
# on the running kernel in place, then in a debian-6.1-cloud guest (the guest's runner gets the
# launcher), each once under each launcher; every case must have the same status both ways. The
# environment of each run names the launcher that started its cases.
#
# usage: launchers_compare_test.sh BIN_FOLDER OUT_FOLDER   (as root)
set -euo pipefail
if [[ $# -ne 2 || ! -x $1/netns-conform ]]; then
  echo "usage: $0 BIN_FOLDER OUT_FOLDER" >&2
  exit 2
fi
bin=$(cd "$1" && pwd) out=$2
script_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=checks.sh
source "$script_dir/checks.sh"
rm -rf "$out"
mkdir -p "$out"

# compare NAME RUN_ARGS...: one run per launcher, then the verdicts side by side.
compare() {
  local name=$1
  shift
  local launcher rc
  for launcher in fork-server exec; do
    rc=0
    "$bin/netns-conform" run "$@" --launcher "$launcher" --out "$out/$name-$launcher" \
      >"$out/$name-$launcher.log" 2>&1 || rc=$?
    if [[ $rc -le 1 && -s $out/$name-$launcher/results.json ]]; then
      pass "$name: --launcher $launcher ran the suite (exit $rc): $(grep -E '^[0-9]+ cases' "$out/$name-$launcher.log" | tail -n 1)"
    else
      fail "$name: --launcher $launcher exited $rc: $(tail -n 3 "$out/$name-$launcher.log")"
      return
    fi
  done
  if python3 - "$out/$name-fork-server/results.json" "$out/$name-exec/results.json" <<'PY'; then
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        run = json.load(f)
    return run["environment"].get("launcher"), {c["id"]: c["status"] for c in run["cases"]}


(fork_name, fork), (exec_name, exec_) = load(sys.argv[1]), load(sys.argv[2])
problems = []
if (fork_name, exec_name) != ("fork-server", "exec"):
    problems.append(f"environment.launcher is {fork_name!r} / {exec_name!r}")
for case in sorted(set(fork) | set(exec_)):
    if fork.get(case) != exec_.get(case):
        problems.append(f"{case}: fork-server {fork.get(case)}, exec {exec_.get(case)}")
if problems:
    print("\n".join(problems), file=sys.stderr)
counts = {}
for status in fork.values():
    counts[status] = counts.get(status, 0) + 1
print(f"{len(fork)} cases, {counts}")
sys.exit(1 if problems else 0)
PY
    pass "$name: every case has the same verdict under both launchers"
  else
    fail "$name: the launchers disagree (above)"
  fi
}

compare host
compare debian-6.1-cloud --vm debian-6.1-cloud
if [[ $failures -ne 0 ]]; then
  echo "launchers_compare_test: $failures check(s) failed"
  exit 1
fi
echo "launchers_compare_test: all checks passed"
