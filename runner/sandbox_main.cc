// netns-conform-sandbox: `netns-conform-sandbox -- COMMAND ARGS...` runs COMMAND inside a fresh
// in-place sandbox (runner/sandbox.h). The runner starts one per case, so this binary is built
// static and small (no Boost, no CLI11, no shared libraries to map): its start-up is part of every
// case's overhead. `netns-conform sandbox-exec` does the same where this binary is missing.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runner/sandbox.h"

//
// `--initial-pid-ns` before the `--` keeps the case in the launcher's PID namespace (a case that
// declares `.initial_pid_ns`).
// `netns-conform-sandbox --private-tmpfs DIR -- COMMAND ARGS...` runs COMMAND with a fresh tmpfs on
// DIR in its own mount namespace (the gVisor target's runsc keeps its state there).
int main(int argc, char** argv) {
  if (argc >= 5 && std::strcmp(argv[1], "--private-tmpfs") == 0 && std::strcmp(argv[3], "--") == 0)
    conform::PrivateTmpfsExec(argv[2], std::vector<std::string>(argv + 4, argv + argc));
  conform::SandboxOptions options;
  int first = 1;
  if (argc > 1 && std::strcmp(argv[1], conform::kInitialPidNsFlag) == 0) {
    options.new_pid_ns = false;
    first = 2;
  }
  if (argc < first + 2 || std::strcmp(argv[first], "--") != 0) {
    std::fprintf(stderr,
                 "usage: netns-conform-sandbox [--initial-pid-ns] -- COMMAND [ARGS...]\n"
                 "       netns-conform-sandbox --private-tmpfs DIR -- COMMAND [ARGS...]\n");
    return conform::kSandboxSetupFailed;
  }
  conform::SandboxExec(std::vector<std::string>(argv + first + 1, argv + argc), options);
}
