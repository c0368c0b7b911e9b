# Sourced by the command-line test scripts: one PASS/FAIL line per check, FAILs counted in
# $failures, which each script turns into its exit status at the end.
failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_refusal NAME PREFIX WORD COMMAND...: run in the current folder, COMMAND must exit 2 with
# exactly one stderr line that starts with PREFIX and contains WORD, print nothing on stdout and
# write no out/ folder (bad input gets one clear line, never a half-written report).
expect_refusal() {
  local name=$1 prefix=$2 word=$3
  shift 3
  rm -rf out
  local rc=0 problems=()
  "$@" >stdout 2>stderr </dev/null || rc=$?
  [[ $rc -eq 2 ]] || problems+=("exit status $rc, expected 2")
  if [[ $(wc -l <stderr) -ne 1 ]]; then
    problems+=("stderr has $(wc -l <stderr) lines, expected one")
  elif [[ $(cat stderr) != "$prefix"* ]] || ! grep -qF -- "$word" stderr; then
    problems+=("stderr does not say '$prefix...$word...'")
  fi
  [[ ! -s stdout ]] || problems+=("stdout is not empty")
  [[ ! -e out ]] || problems+=("out/ was written")
  if [[ ${#problems[@]} -eq 0 ]]; then
    pass "$name: $(cat stderr)"
  else
    fail "$name: ${problems[*]}; stderr: $(head -c 300 stderr)"
  fi
}
