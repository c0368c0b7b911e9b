#!/bin/bash
# Prepares a CI job: installs the Debian packages the project needs (.ci/install-deps, only what
# is missing) and builds the project, as README.md's set-up command does.
#
# usage: ci/build.sh            (from anywhere; works in the checkout this script is in)
# Environment:
#   NETNS_CONFORM_BUILD_DIR   build folder, relative to the checkout (default: build)
#   NETNS_CONFORM_SKIP_DEPS=1  do not run .ci/install-deps (the packages are known to be there)
#   NETNS_CONFORM_SKIP_BUILD=1 use the binaries already in the build folder (a job that got them
#                              from an earlier one, or a local test of these scripts)
# Prints the folder holding netns-conform as its last line of stdout; everything else goes to
# stderr, so that callers can do bin=$(ci/build.sh).
set -euo pipefail

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$checkout"
build_dir=${NETNS_CONFORM_BUILD_DIR:-build}

if [[ ${NETNS_CONFORM_SKIP_DEPS:-0} != 1 ]]; then
  .ci/install-deps >&2
fi
if [[ ${NETNS_CONFORM_SKIP_BUILD:-0} != 1 ]]; then
  cmake -S . -B "$build_dir" >&2
  cmake --build "$build_dir" -j"$(nproc)" >&2
fi
bin=$(cd "$build_dir/bin" && pwd)
if [[ ! -x $bin/netns-conform ]]; then
  echo "ci/build.sh: $bin/netns-conform is missing" >&2
  exit 2
fi
echo "$bin"
