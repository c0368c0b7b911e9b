#!/bin/bash
# One job of the CI matrix: shard K of N of the suite against one target, reports in
# results/TARGET-K/ (results.json, junit.xml, journal.jsonl, logs/) for the merge job.
#
# usage: ci/run-shard.sh TARGET K N [-- RUN_OPTION...]
#   TARGET  host, gvisor, or a VM kernel (debian-6.1-cloud, debian-6.12, no-netns, ...)
#   K N     this job's shard, 1 <= K <= N
#   RUN_OPTION...  passed on to `netns-conform run` (e.g. --filter 'Veth*' -j 2)
# Environment: as ci/build.sh, plus NETNS_CONFORM_RESULTS, the folder the shard's folder goes in
# (default: results, in the current folder).
#
# Exit status: 0 when the shard's reports were written, whatever its cases' verdicts: the merge
# job judges the whole run (a failed case in one shard must not keep the other shards' results
# from being merged); otherwise the runner's status (2: bad usage or infrastructure).
set -euo pipefail

if [[ $# -lt 3 || ($# -gt 3 && $4 != --) ]]; then
  echo "usage: $0 TARGET K N [-- RUN_OPTION...]" >&2
  exit 2
fi
target=$1 index=$2 count=$3
shift 3
[[ $# -gt 0 ]] && shift  # the --

bin=$("$(dirname "${BASH_SOURCE[0]}")/build.sh")
out=${NETNS_CONFORM_RESULTS:-results}/$target-$index
# The no-netns kernel is built from Debian's linux-source on first use (cached afterwards).
if [[ $target == no-netns ]]; then
  "$bin/netns-conform" kernel build no-netns >&2
fi

status=0
"$bin/netns-conform" run --target "$target" --shard "$index/$count" --out "$out" "$@" || status=$?
if [[ ($status -eq 0 || $status -eq 1) && -s $out/results.json ]]; then
  echo "run-shard: $target shard $index/$count: reports in $out (runner exit status $status)"
  exit 0
fi
echo "run-shard: $target shard $index/$count: the runner failed with exit status $status" >&2
exit "$status"
