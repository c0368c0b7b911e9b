// `--launcher exec`: every case is its own `netns-conform-sandbox -- suite --gtest_filter=ID`
// (or `netns-conform sandbox-exec -- ...` where the static launcher is missing), started with
// Boost.Process in a process group of its own.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

// Boost.Process offers vfork only where the feature macros predate POSIX.1-2008, which _GNU_SOURCE
// never does; glibc declares vfork() under _GNU_SOURCE all the same.
#define BOOST_POSIX_HAS_VFORK 1
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <map>

#include "runner/case_launcher.h"
#include "runner/sandbox.h"
#include "vm/child_setup.h"

namespace bp = boost::process;

namespace conform {
namespace {

// Runs in the forked child before exec, before vm::ChildSetup (its own process group, so a
// timeout can kill the case and everything it started; death with the runner; no signal
// blocked): hands the case its result fd.
struct ResultFdSetup : bp::extend::handler {
  int result_fd;  // opened close-on-exec in the runner; this case alone inherits it
  // Instead, as its stdin (the fd is write-only, appending): for a wrapper that passes on stdio
  // only.
  bool result_as_stdin = false;

  template <class Executor>
  void on_exec_setup(Executor&) const {
    if (result_as_stdin) {
      dup2(result_fd, STDIN_FILENO);
    } else {
      fcntl(result_fd, F_SETFD, 0);
    }
  }
};

class ExecLauncher : public CaseLauncher {
 public:
  explicit ExecLauncher(const ExecutorOptions& options)
      : options_(options), env_(boost::this_process::environment()) {
    for (const auto& [key, value] : options.extra_env) env_[key] = value;
    // The static launcher beside the runner when it is there (a fraction of the runner's
    // start-up, paid per case), else the runner's own `sandbox-exec`.
    const auto static_launcher = options.runner_binary.parent_path() / kSandboxBinaryName;
    const bool use_static = access(static_launcher.c_str(), X_OK) == 0;
    launcher_ = use_static ? static_launcher : options.runner_binary;
    launcher_args_ = use_static ? std::vector<std::string>{"--"}
                                : std::vector<std::string>{"sandbox-exec", "--"};
  }

  void Start(size_t token, const PlannedCase& planned, int result_fd,
             const std::filesystem::path& log_file) override {
    std::vector<std::string> args = launcher_args_;
    if (planned.initial_pid_ns) args.insert(args.end() - 1, kInitialPidNsFlag);
    args.insert(args.end(), {options_.suite_binary.string(), "--gtest_filter=" + planned.id,
                             "--netns_conform_result_fd=" +
                                 std::to_string(options_.result_via_stdin ? 0 : result_fd)});
    args.insert(args.end(), planned.extra_args.begin(), planned.extra_args.end());
    std::string program = launcher_.string();
    if (!options_.wrapper.empty()) {
      args.insert(args.begin(), program);
      args.insert(args.begin(), options_.wrapper.begin() + 1, options_.wrapper.end());
      program = options_.wrapper.front();
    }
    // vfork: the child only adjusts fds, its group and signals, then execs, so copying the
    // runner's page tables (a fork) would be paid per case for nothing. The set-up runs after
    // the stdio redirections (Boost.Process applies them in order), so its stdin wins.
    cases_[token] = std::make_unique<bp::child>(
        program, bp::args(args), (bp::std_out & bp::std_err) > log_file.string(),
        bp::std_in < bp::null, env_,
        ResultFdSetup{.result_fd = result_fd, .result_as_stdin = options_.result_via_stdin},
        vm::ChildSetup(getpid()), bp::posix::use_vfork);
  }

  void Kill(size_t token) override {
    if (auto it = cases_.find(token); it != cases_.end()) kill(-it->second->id(), SIGKILL);
  }

  std::vector<CaseEnding> Collect() override {
    std::vector<CaseEnding> endings;
    for (auto it = cases_.begin(); it != cases_.end();) {
      std::error_code ec;
      if (it->second->running(ec)) {
        ++it;
        continue;
      }
      // The case's launcher is gone; make sure nothing else of its group lingers.
      kill(-it->second->id(), SIGKILL);
      endings.push_back({.token = it->first, .wait_status = it->second->native_exit_code()});
      it = cases_.erase(it);
    }
    return endings;
  }

  std::string Name() const override { return "exec"; }

 private:
  const ExecutorOptions& options_;
  bp::environment env_;
  std::filesystem::path launcher_;
  std::vector<std::string> launcher_args_;
  std::map<size_t, std::unique_ptr<bp::child>> cases_;
};

}  // namespace

std::unique_ptr<CaseLauncher> MakeExecLauncher(const ExecutorOptions& options) {
  return std::make_unique<ExecLauncher>(options);
}

}  // namespace conform
