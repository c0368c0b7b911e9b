#include "runner/executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "runner/case_launcher.h"
#include "runner/sandbox.h"

using Clock = std::chrono::steady_clock;

namespace conform {
namespace {

struct RunningCase {
  size_t index;
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

CaseResult Conclude(const PlannedCase& planned, const RunningCase& run, const CaseEnding& ending,
                    const ExecutorOptions& options) {
  CaseResult result;
  result.id = planned.id;
  result.clause = planned.clause;
  result.duration_s = std::chrono::duration<double>(Clock::now() - run.started).count();
  result.log = std::filesystem::relative(run.log_file, options.out_dir).string();

  const auto tail = [&] {
    return "\n--- last lines of " + result.log + " ---\n" + LogTail(run.log_file, 15);
  };
  if (run.timed_out) {
    result.status = Status::kTimeout;
    char limit[32];
    std::snprintf(limit, sizeof(limit), "%.3g",
                  std::chrono::duration<double>(options.case_timeout).count());
    result.reason = std::string("no result within the ") + limit +
                    " s case timeout; its sandbox was killed" + tail();
    return result;
  }
  if (!ending.wait_status) {
    result.status = Status::kError;
    result.reason = ending.failure + tail();
    return result;
  }
  const int native = *ending.wait_status;
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
  // `also` (when not -1) wakes it too: the fork server's socket.
  std::optional<int> Wait(std::chrono::milliseconds timeout, int also) {
    pollfd pfd[2] = {{fd_.get(), POLLIN, 0}, {also, POLLIN, 0}};
    poll(pfd, also >= 0 ? 2 : 1, static_cast<int>(std::max<long>(0, timeout.count())));
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

  SignalWatch signals;
  auto launcher = MakeCaseLauncher(options, plan);
  outcome.launcher = launcher->Name();
  std::map<size_t, RunningCase> running;  // by plan index, the launcher's token
  // The cases that must run alone first, each with nothing beside it (before the others have
  // left dying namespaces behind); then the rest in plan order. Reports keep the plan's order.
  std::vector<size_t> order;
  for (size_t i = 0; i < plan.size(); ++i)
    if (plan[i].alone) order.push_back(i);
  for (size_t i = 0; i < plan.size(); ++i)
    if (!plan[i].alone) order.push_back(i);
  auto alone_running = [&] {
    return std::any_of(running.begin(), running.end(),
                       [&](const auto& entry) { return plan[entry.first].alone; });
  };
  size_t next = 0;
  while (true) {
    // Start cases up to the job limit; cases with an unmet requirement never start.
    while (!outcome.interrupted && next < order.size() &&
           running.size() < static_cast<size_t>(options.jobs) && !alone_running()) {
      const size_t index = order[next++];
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
        launcher->Start(index, planned, result_fd.get(), run.log_file);
      } catch (const std::exception& e) {
        CaseResult failed = Missed(planned, std::string("could not start: ") + e.what());
        failed.status = Status::kError;
        finish(index, failed);
        continue;
      }
      running.emplace(index, std::move(run));
    }
    if (running.empty() && (next >= order.size() || outcome.interrupted)) break;

    auto wait = std::chrono::milliseconds(1000);
    for (const auto& [index, run] : running) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(run.deadline - Clock::now());
      wait = std::min(wait, std::max(left, std::chrono::milliseconds(0)));
    }
    if (auto sig = signals.Wait(wait, launcher->PollFd()); sig && !outcome.interrupted) {
      outcome.interrupted = true;
      outcome.interrupt_signal = SignalName(*sig);
      for (const auto& [index, run] : running) launcher->Kill(index);
    }
    for (auto& [index, run] : running) {
      if (!run.timed_out && !outcome.interrupted && Clock::now() >= run.deadline) {
        launcher->Kill(index);
        run.timed_out = true;
      }
    }

    for (const CaseEnding& ending : launcher->Collect()) {
      auto it = running.find(ending.token);
      if (it == running.end()) continue;
      RunningCase& run = it->second;
      const PlannedCase& planned = plan[run.index];
      if (outcome.interrupted && !run.timed_out && !ReadResultLine(run.result_file, planned.id)) {
        finish(run.index,
               Missed(planned, "interrupted by " + outcome.interrupt_signal + " while running"));
      } else {
        finish(run.index, Conclude(planned, run, ending, options));
      }
      std::filesystem::remove(run.result_file);
      running.erase(it);
    }
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!results[i])
      finish(i, Missed(plan[i],
                       "not started: the run was interrupted by " + outcome.interrupt_signal));
    outcome.results.push_back(*results[i]);
  }
  std::filesystem::remove_all(work_dir);
  launcher.reset();  // the fork server has exited when this returns
  // The fork server's own output: kept only when it had something to say.
  std::error_code ec;
  if (std::filesystem::file_size(log_dir / "fork-server.log", ec) == 0 && !ec)
    std::filesystem::remove(log_dir / "fork-server.log");
  return outcome;
}

}  // namespace conform
