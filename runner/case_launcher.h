// The two ways the executor starts a case in its sandbox, behind one interface:
//   - the fork server (runner/fork_server_client.h): the suite binary started once per run,
//     which clone3()s each case into fresh namespaces; the default.
//   - exec (`--launcher exec`): one `netns-conform-sandbox -- suite --gtest_filter=ID` per case,
//     started with Boost.Process; for comparison, for wrappers such as gVisor's `runsc do` (one
//     sandbox per case), for the tool scenarios, and where clone3 is missing.
// Either way a case's ending is its wait status as the sandbox reports it: the case's own, or,
// when the case never ran, its init's.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runner/executor.h"
#include "runner/plan.h"

namespace conform {

struct CaseEnding {
  size_t token = 0;
  std::optional<int> wait_status;  // none: the case's end is unknown, `failure` says why
  std::string failure;
};

class CaseLauncher {
 public:
  virtual ~CaseLauncher() = default;
  // Starts `planned` with its output in `log_file` and its result line into `result_fd`. Throws
  // std::exception when it cannot be started.
  virtual void Start(size_t token, const PlannedCase& planned, int result_fd,
                     const std::filesystem::path& log_file) = 0;
  // Kills the case's whole sandbox (its PID namespace, or everything its keeper holds).
  virtual void Kill(size_t token) = 0;
  // An fd to poll beside the runner's signals; -1: SIGCHLD is enough.
  virtual int PollFd() const { return -1; }
  // The cases that have ended since the last call.
  virtual std::vector<CaseEnding> Collect() = 0;
  // "fork-server" or "exec", for the run's environment.
  virtual std::string Name() const = 0;
};

// The launcher `options` ask for; the exec launcher where the fork server cannot serve (a
// wrapper, a case with extra arguments), and, with a note on stderr, where it does not start (a
// kernel without clone3, a suite binary that cannot serve).
std::unique_ptr<CaseLauncher> MakeCaseLauncher(const ExecutorOptions& options,
                                               const std::vector<PlannedCase>& plan);

std::unique_ptr<CaseLauncher> MakeExecLauncher(const ExecutorOptions& options);
// nullptr when the kernel lacks clone3 (*unsupported says so).
std::unique_ptr<CaseLauncher> MakeForkServerLauncher(const ExecutorOptions& options,
                                                     std::string* unsupported);

}  // namespace conform
