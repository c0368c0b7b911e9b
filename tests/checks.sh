# Sourced by the command-line test scripts: one PASS/FAIL line per check, FAILs counted in
# $failures, which each script turns into its exit status at the end.
failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
