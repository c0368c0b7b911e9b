#!/bin/bash
# The merge job of one target: merges the folders its shard jobs wrote into one run, converts it
# to every report format, and compares it with a baseline run when one is given.
#
# usage: ci/merge-shards.sh --out DIR [--baseline RESULTS.json] SHARD_DIR...
#   SHARD_DIR...  one folder per shard, each holding the results.json of ci/run-shard.sh (and its
#                 logs/, which the merged results.json links to)
# Environment: as ci/build.sh.
#
# Writes in DIR: results.json, junit.xml (netns-conform report merge), results.ktap, kcidb.json,
# index.html, and with a baseline diff.txt and diff.json.
# Exit status: with a baseline, 1 when the diff finds a regression (known failures of the
# baseline do not fail the job); without one, 1 when a case failed, errored, timed out or was
# missed; 2 when the shards cannot be merged (a shard missing, overlapping shards, shards of
# different runs) or a report cannot be written.
set -euo pipefail

usage() {
  echo "usage: $0 --out DIR [--baseline RESULTS.json] SHARD_DIR..." >&2
  exit 2
}
out='' baseline=''
shards=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) [[ $# -ge 2 ]] || usage; out=$2; shift 2 ;;
    --baseline) [[ $# -ge 2 ]] || usage; baseline=$2; shift 2 ;;
    -*) usage ;;
    *) shards+=("$1/results.json"); shift ;;
  esac
done
[[ -n $out && ${#shards[@]} -gt 0 ]] || usage

bin=$("$(dirname "${BASH_SOURCE[0]}")/build.sh")
runner=$bin/netns-conform

# 0 or 1 (a case failed) both leave a merged run; 2 does not.
merge_status=0
"$runner" report merge "${shards[@]}" --out "$out" || merge_status=$?
[[ $merge_status -le 1 ]] || exit "$merge_status"
"$runner" report convert "$out/results.json" --to ktap --out "$out/results.ktap"
"$runner" report convert "$out/results.json" --to kcidb --out "$out/kcidb.json"
"$runner" report convert "$out/results.json" --to html --out "$out/index.html"

if [[ -z $baseline ]]; then
  echo "merge-shards: no baseline: the merged run's verdict decides (exit status $merge_status)"
  exit "$merge_status"
fi
"$runner" report diff "$baseline" "$out/results.json" --json >"$out/diff.json" || true
diff_status=0
"$runner" report diff "$baseline" "$out/results.json" >"$out/diff.txt" || diff_status=$?
cat "$out/diff.txt"
exit "$diff_status"
