# Sourced by the command-line and VM test scripts: one PASS/FAIL line per check, FAILs counted in
# $failures, which each script turns into its exit status at the end. Also the one bad-input
# check they all share (expect_refusal, expect_refusal_keeping).
failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# check NAME STATUS [DETAIL]: PASS when STATUS is 0, else FAIL with DETAIL.
check() {
  if [[ $2 -eq 0 ]]; then
    pass "$1"
  else
    fail "$1${3:+: $3}"
  fi
}

# report_state FOLDER: the reports of one run in FOLDER, by name and hash, to compare before and
# after a command (empty when there are none).
report_state() {
  local folder=$1 name
  for name in results.json junit.xml journal.jsonl; do
    if [[ -e $folder/$name ]]; then
      echo "$name $(sha256sum <"$folder/$name")"
    fi
  done
}

# expect_refusal_keeping OUT NAME PREFIX WORD COMMAND...: COMMAND (stdin from /dev/null) must
# exit 2 with exactly one stderr line that starts with PREFIX (empty: any) and contains WORD,
# print nothing on stdout, and leave the reports in folder OUT as they were; an OUT that was not
# there must not be made (bad input gets one clear line, never a half-written report). Its
# output is kept in ${check_dir:-.}/stdout and stderr.
expect_refusal_keeping() {
  local out=$1 name=$2 prefix=$3 word=$4
  shift 4
  local dir=${check_dir:-.}
  local before after rc=0 problems=()
  before=$(report_state "$out")
  "$@" >"$dir/stdout" 2>"$dir/stderr" </dev/null || rc=$?
  after=$(report_state "$out")
  [[ $rc -eq 2 ]] || problems+=("exit status $rc, expected 2")
  if [[ $(wc -l <"$dir/stderr") -ne 1 ]]; then
    problems+=("stderr has $(wc -l <"$dir/stderr") lines, expected one")
  elif [[ $(cat "$dir/stderr") != "$prefix"* ]] || ! grep -qF -- "$word" "$dir/stderr"; then
    problems+=("stderr does not say '$prefix...$word...'")
  fi
  [[ ! -s $dir/stdout ]] || problems+=("stdout is not empty: $(head -c 200 "$dir/stdout")")
  [[ $before == "$after" ]] || problems+=("the reports in $out changed: [$before] -> [$after]")
  [[ -n $before || ! -e $out ]] || problems+=("$out was written")
  if [[ ${#problems[@]} -eq 0 ]]; then
    pass "$name: $(cat "$dir/stderr")"
  else
    local IFS=';'
    fail "$name: ${problems[*]}; stderr: $(head -c 300 "$dir/stderr" | tr '\n' '|')"
  fi
}

# expect_refusal NAME PREFIX WORD COMMAND...: expect_refusal_keeping for a command run in the
# current folder that must write no out/ folder there.
expect_refusal() {
  rm -rf out
  expect_refusal_keeping out "$@"
}
