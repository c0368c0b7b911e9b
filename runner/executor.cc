#include "runner/executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

// Boost.Process offers vfork only where the feature macros predate POSIX.1-2008, which _GNU_SOURCE
// never does; glibc declares vfork() under _GNU_SOURCE all the same.
#define BOOST_POSIX_HAS_VFORK 1
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "runner/sandbox.h"

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

namespace conform {
namespace {

// Runs in the forked child before exec: its own process group (so a timeout can kill the case
// and everything it started), death with the runner, and the signal mask the runner blocked for
// its signalfd restored to empty.
struct CaseProcessSetup : bp::extend::handler {
  int result_fd;  // opened close-on-exec in the runner; this case alone inherits it
  // Instead, as its stdin (the fd is write-only, appending): for a wrapper that passes on stdio
  // only.
  bool result_as_stdin = false;
  pid_t runner = getpid();  // evaluated in the runner, before the fork

  template <class Executor>
  void on_exec_setup(Executor&) const {
    if (result_as_stdin) {
      dup2(result_fd, STDIN_FILENO);
    } else {
      fcntl(result_fd, F_SETFD, 0);
    }
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A runner killed between the fork and the prctl sends no death signal: never outlive it.
    if (getppid() != runner) _exit(kSandboxSetupFailed);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
  }
};

struct RunningCase {
  size_t index;
  std::unique_ptr<bp::child> process;
  Clock::time_point started;
  Clock::time_point deadline;
  bool timed_out = false;
  std::filesystem::path result_file;
  std::filesystem::path log_file;
};

// File names from case ids: ids are [A-Za-z0-9_.] (gtest names), so they are safe as they are.
std::string SafeName(const std::string& id) {
  std::string name = id;
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  return name;
}

std::string LogTail(const std::filesystem::path& log, size_t max_lines) {
  std::ifstream in(log);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string tail;
  for (const auto& line : lines) tail += line + "\n";
  return tail;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Reads the result line the suite wrote for `id`, if it got that far.
std::optional<nlohmann::json> ReadResultLine(const std::filesystem::path& file,
                                             const std::string& id) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_discarded() && parsed.value("id", "") == id) return parsed;
  }
  return std::nullopt;
}

CaseResult Conclude(const PlannedCase& planned, RunningCase& run, const ExecutorOptions& options) {
  CaseResult result;
  result.id = planned.id;
  result.clause = planned.clause;
  result.duration_s = std::chrono::duration<double>(Clock::now() - run.started).count();
  result.log = std::filesystem::relative(run.log_file, options.out_dir).string();

  const int native = run.process->native_exit_code();
  const auto tail = [&] {
    return "\n--- last lines of " + result.log + " ---\n" + LogTail(run.log_file, 15);
  };
  if (run.timed_out) {
    result.status = Status::kTimeout;
    char limit[32];
    std::snprintf(limit, sizeof(limit), "%.3g",
                  std::chrono::duration<double>(options.case_timeout).count());
    result.reason = std::string("no result within the ") + limit +
                    " s case timeout; its process group was killed" + tail();
    return result;
  }
  if (WIFEXITED(native) && WEXITSTATUS(native) == kSandboxSetupFailed) {
    result.status = Status::kError;
    result.reason = "the sandbox could not be set up" + tail();
    return result;
  }
  auto line = ReadResultLine(run.result_file, planned.id);
  if (!line) {
    result.status = Status::kError;
    result.reason = WIFSIGNALED(native)
                        ? "crashed: killed by " + SignalName(WTERMSIG(native)) + " before reporting"
                        : "exited with status " + std::to_string(WEXITSTATUS(native)) +
                              " without reporting a result";
    result.reason += tail();
    return result;
  }
  auto status = ParseStatus(line->value("status", ""));
  result.status = status.value_or(Status::kError);
  result.reason = line->value("reason", "");
  if (const auto own = line->find("duration_s"); own != line->end() && own->is_number())
    result.case_s = own->get<double>();
  // A case that reported but then died (a crash in a destructor, a leak checker) is not a pass.
  if (WIFSIGNALED(native) ||
      (WIFEXITED(native) && WEXITSTATUS(native) != 0 && result.status != Status::kFail)) {
    result.status = Status::kError;
    result.reason =
        (WIFSIGNALED(native) ? "killed by " + SignalName(WTERMSIG(native))
                             : "exited with status " + std::to_string(WEXITSTATUS(native))) +
        " after reporting " + line->value("status", "?") + tail();
  }
  return result;
}

CaseResult Skipped(const PlannedCase& planned) {
  CaseResult result;
  result.id = planned.id;
  result.clause = planned.clause;
  result.status = Status::kSkip;
  result.reason = *planned.skip_reason;
  return result;
}

CaseResult Missed(const PlannedCase& planned, const std::string& why) {
  CaseResult result;
  result.id = planned.id;
  result.clause = planned.clause;
  result.status = Status::kMiss;
  result.reason = why;
  return result;
}

class SignalWatch {
 public:
  SignalWatch() {
    sigemptyset(&set_);
    for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&set_, sig);
    CheckSyscall(sigprocmask(SIG_BLOCK, &set_, &old_), "sigprocmask");
    fd_.reset(static_cast<int>(
        CheckSyscall(signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd")));
  }
  ~SignalWatch() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

  // Waits until a signal arrives or the timeout passes; returns the first terminating signal.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    poll(&pfd, 1, static_cast<int>(std::max<long>(0, timeout.count())));
    std::optional<int> stop;
    signalfd_siginfo info{};
    while (read(fd_.get(), &info, sizeof(info)) == sizeof(info)) {
      if (info.ssi_signo != SIGCHLD && !stop) stop = static_cast<int>(info.ssi_signo);
    }
    return stop;
  }

 private:
  sigset_t set_, old_;
  FileDescriptor fd_;
};

}  // namespace

ExecutionOutcome ExecuteCases(const std::vector<PlannedCase>& plan, const ExecutorOptions& options,
                              const ResultSink& on_result) {
  const auto work_dir = options.out_dir / ".work";
  const auto log_dir = options.out_dir / "logs";
  std::filesystem::create_directories(work_dir);
  std::filesystem::create_directories(log_dir);

  ExecutionOutcome outcome;
  std::vector<std::optional<CaseResult>> results(plan.size());
  auto finish = [&](size_t index, CaseResult result) {
    result.tool = plan[index].tool;
    result.tool_version = plan[index].tool_version;
    on_result(result);
    results[index] = std::move(result);
  };

  bp::environment env = boost::this_process::environment();
  for (const auto& [key, value] : options.extra_env) env[key] = value;

  // The static launcher beside the runner when it is there (a fraction of the runner's start-up,
  // paid per case), else the runner's own `sandbox-exec`.
  const auto static_launcher = options.runner_binary.parent_path() / kSandboxBinaryName;
  const bool use_static = access(static_launcher.c_str(), X_OK) == 0;
  const std::filesystem::path launcher = use_static ? static_launcher : options.runner_binary;
  const std::vector<std::string> launcher_args =
      use_static ? std::vector<std::string>{"--"} : std::vector<std::string>{"sandbox-exec", "--"};

  SignalWatch signals;
  std::vector<RunningCase> running;
  size_t next = 0;
  while (true) {
    // Start cases up to the job limit; cases with an unmet requirement never start.
    while (!outcome.interrupted && next < plan.size() &&
           running.size() < static_cast<size_t>(options.jobs)) {
      const size_t index = next++;
      const PlannedCase& planned = plan[index];
      if (planned.skip_reason) {
        finish(index, Skipped(planned));
        continue;
      }
      RunningCase run;
      run.index = index;
      const std::string stem =
          SafeName(planned.tool.empty() ? planned.id : planned.tool + "." + planned.id);
      run.log_file = log_dir / (stem + ".log");
      run.result_file = work_dir / (stem + ".jsonl");
      std::filesystem::remove(run.result_file);
      // The result file travels as an fd: the case's private /tmp may hide the output folder.
      FileDescriptor result_fd(
          open(run.result_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
      if (!result_fd)
        throw InfrastructureError("cannot create " + run.result_file.string() + ": " +
                                  ErrnoName(errno));
      run.started = Clock::now();
      run.deadline = run.started + options.case_timeout;
      try {
        std::vector<std::string> args = launcher_args;
        if (planned.initial_pid_ns) args.insert(args.end() - 1, kInitialPidNsFlag);
        args.insert(args.end(),
                    {options.suite_binary.string(), "--gtest_filter=" + planned.id,
                     "--netns_conform_result_fd=" +
                         std::to_string(options.result_via_stdin ? 0 : result_fd.get())});
        args.insert(args.end(), planned.extra_args.begin(), planned.extra_args.end());
        std::string program = launcher.string();
        if (!options.wrapper.empty()) {
          args.insert(args.begin(), program);
          args.insert(args.begin(), options.wrapper.begin() + 1, options.wrapper.end());
          program = options.wrapper.front();
        }
        // vfork: the child only adjusts fds, its group and signals, then execs, so copying the
        // runner's page tables (a fork) would be paid per case for nothing. The set-up runs after
        // the stdio redirections (Boost.Process applies them in order), so its stdin wins.
        run.process = std::make_unique<bp::child>(
            program, bp::args(args), (bp::std_out & bp::std_err) > run.log_file.string(),
            bp::std_in < bp::null, env,
            CaseProcessSetup{.result_fd = result_fd.get(),
                             .result_as_stdin = options.result_via_stdin},
            bp::posix::use_vfork);
      } catch (const std::exception& e) {
        CaseResult failed = Missed(planned, std::string("could not start: ") + e.what());
        failed.status = Status::kError;
        finish(index, failed);
        continue;
      }
      running.push_back(std::move(run));
    }
    if (running.empty() && (next >= plan.size() || outcome.interrupted)) break;

    auto wait = std::chrono::milliseconds(1000);
    for (const auto& run : running) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(run.deadline - Clock::now());
      wait = std::min(wait, std::max(left, std::chrono::milliseconds(0)));
    }
    if (auto sig = signals.Wait(wait); sig && !outcome.interrupted) {
      outcome.interrupted = true;
      outcome.interrupt_signal = SignalName(*sig);
      for (auto& run : running) kill(-run.process->id(), SIGKILL);
    }

    for (auto it = running.begin(); it != running.end();) {
      std::error_code ec;
      if (!it->timed_out && !outcome.interrupted && Clock::now() >= it->deadline) {
        kill(-it->process->id(), SIGKILL);
        it->timed_out = true;
      }
      if (it->process->running(ec)) {
        ++it;
        continue;
      }
      // The case's init is gone; make sure nothing else of its group lingers.
      kill(-it->process->id(), SIGKILL);
      const PlannedCase& planned = plan[it->index];
      if (outcome.interrupted && !it->timed_out && !ReadResultLine(it->result_file, planned.id)) {
        finish(it->index,
               Missed(planned, "interrupted by " + outcome.interrupt_signal + " while running"));
      } else {
        finish(it->index, Conclude(planned, *it, options));
      }
      std::filesystem::remove(it->result_file);
      it = running.erase(it);
    }
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!results[i])
      finish(i, Missed(plan[i],
                       "not started: the run was interrupted by " + outcome.interrupt_signal));
    outcome.results.push_back(*results[i]);
  }
  std::filesystem::remove_all(work_dir);
  return outcome;
}

}  // namespace conform
