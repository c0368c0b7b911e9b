#!/bin/bash
# The matrix's speed goal (issue 6): `netns-conform matrix` over five targets against the same
# targets run one by one. Prints one JSON object: each target's wall time alone, their sum, the
# matrix's wall time and the ratio (goal: at most 0.6). Run it on a quiet machine: the ratio
# measures how well the matrix overlaps targets that do not use both cores all the time.
#
# usage: matrix_bench.sh BIN_FOLDER OUT_FOLDER [TARGET...]
#   default targets: host gvisor debian-6.1-cloud debian-6.12 no-netns (the VM kernels must be
#   cached: `netns-conform kernel list`, `netns-conform kernel build no-netns`).
set -euo pipefail
if [[ $# -lt 2 || ! -x $1/netns-conform ]]; then
  echo "usage: $0 BIN_FOLDER OUT_FOLDER [TARGET...]" >&2
  exit 2
fi
runner=$(cd "$1" && pwd)/netns-conform
out=$2
shift 2
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(host gvisor debian-6.1-cloud debian-6.12 no-netns)
mkdir -p "$out"

now() { date +%s.%N; }
declare -A alone
sum=0
for target in "${targets[@]}"; do
  start=$(now)
  "$runner" run --target "$target" --out "$out/alone/$target" 2>"$out/alone-$target.log" || true
  [[ -s $out/alone/$target/results.json ]] || { echo "$target delivered no results" >&2; exit 1; }
  alone[$target]=$(echo "$(now) - $start" | bc)
  sum=$(echo "$sum + ${alone[$target]}" | bc)
done
matrix_args=()
for target in "${targets[@]}"; do matrix_args+=(--target "$target"); done
start=$(now)
"$runner" matrix "${matrix_args[@]}" --out "$out/matrix" 2>"$out/matrix.log" || true
[[ -s $out/matrix/matrix.json ]] || { echo "the matrix delivered no matrix.json" >&2; exit 1; }
matrix=$(echo "$(now) - $start" | bc)

{
  echo "{"
  echo "  \"cpus\": $(nproc),"
  echo "  \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "  \"alone_s\": {"
  for i in "${!targets[@]}"; do
    sep=","
    [[ $i -eq $((${#targets[@]} - 1)) ]] && sep=""
    printf '    "%s": %.2f%s\n' "${targets[$i]}" "${alone[${targets[$i]}]}" "$sep"
  done
  echo "  },"
  printf '  "sum_alone_s": %.2f,\n' "$sum"
  printf '  "matrix_s": %.2f,\n' "$matrix"
  printf '  "ratio": %.3f,\n' "$(echo "$matrix / $sum" | bc -l)"
  echo "  \"goal_ratio\": 0.6"
  echo "}"
} | tee "$out/matrix-bench.json"
