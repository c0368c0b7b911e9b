// The default launcher: one fork server (runner/fork_server_client.h) per run, asked for one case
// at a time. A server that dies (killed from outside, a bug) costs the cases it was running: they
// end as ERROR, their sandboxes die with it (their inits' death signal), and the next case starts
// a new server.
#include <fcntl.h>
#include <signal.h>

#include <cstdio>
#include <map>

#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "fixtures/pidfd.h"
#include "runner/case_launcher.h"
#include "runner/fork_server_client.h"

namespace conform {
namespace {

struct ForkedCase {
  bool new_pid_ns = true;
  FileDescriptor pidfd;  // once the server said STARTED
  bool kill_when_started = false;
};

class ForkServerLauncher : public CaseLauncher {
 public:
  explicit ForkServerLauncher(const ExecutorOptions& options) : options_(options) {}

  // Starts the server; false when the kernel lacks what it needs.
  bool StartServer(std::string* unsupported) {
    server_ = ForkServer::Start(options_.suite_binary, options_.extra_env,
                                options_.out_dir / "logs" / "fork-server.log", options_.jobs,
                                unsupported);
    return server_ != nullptr;
  }

  void Start(size_t token, const PlannedCase& planned, int result_fd,
             const std::filesystem::path& log_file) override {
    if (!server_ || server_->dead()) {
      std::string unsupported;
      if (!StartServer(&unsupported))
        throw InfrastructureError("the fork server cannot serve: " + unsupported);
    }
    FileDescriptor log(open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!log)
      throw InfrastructureError("cannot create " + log_file.string() + ": " + ErrnoName(errno));
    if (!server_->Launch(token, planned.id, !planned.initial_pid_ns, log.get(), result_fd))
      throw InfrastructureError("the fork server is gone: " + server_->DeathText());
    cases_[token].new_pid_ns = !planned.initial_pid_ns;
  }

  void Kill(size_t token) override {
    auto it = cases_.find(token);
    if (it == cases_.end()) return;
    ForkedCase& forked = it->second;
    if (!forked.pidfd) {
      forked.kill_when_started = true;
      return;
    }
    // A PID namespace's init takes the whole namespace along; a keeper (`.initial_pid_ns`)
    // kills everything below it on SIGTERM, its death signal under the exec launcher too.
    PidfdSendSignal(forked.pidfd.get(), forked.new_pid_ns ? SIGKILL : SIGTERM);
  }

  int PollFd() const override { return server_ && !server_->dead() ? server_->fd() : -1; }

  std::vector<CaseEnding> Collect() override {
    std::vector<CaseEnding> endings;
    if (!server_) return endings;
    for (auto& event : server_->Receive()) {
      auto it = cases_.find(event.token);
      if (it == cases_.end()) continue;
      switch (event.kind) {
        case ForkServerEvent::Kind::kStarted:
          it->second.pidfd = std::move(event.pidfd);
          if (it->second.kill_when_started) Kill(event.token);
          break;
        case ForkServerEvent::Kind::kDone:
          endings.push_back({.token = event.token, .wait_status = event.wait_status});
          cases_.erase(it);
          break;
        case ForkServerEvent::Kind::kFailed:
          endings.push_back({.token = event.token, .failure = "could not start: " + event.error});
          cases_.erase(it);
          break;
      }
    }
    if (server_->dead()) {
      const std::string death = server_->DeathText();
      std::fprintf(stderr, "netns-conform: the fork server %s; the next case starts a new one\n",
                   death.c_str());
      for (auto& [token, forked] : cases_) {
        // Its death signal has already reached each init; this makes sure. Never SIGKILL for a
        // keeper: it must live on to kill what the case left running.
        if (forked.pidfd)
          PidfdSendSignal(forked.pidfd.get(), forked.new_pid_ns ? SIGKILL : SIGTERM);
        endings.push_back(
            {.token = token, .failure = "the fork server " + death + " while the case ran"});
      }
      cases_.clear();
      server_.reset();
    }
    return endings;
  }

  std::string Name() const override { return "fork-server"; }

 private:
  const ExecutorOptions& options_;
  std::unique_ptr<ForkServer> server_;
  std::map<size_t, ForkedCase> cases_;
};

}  // namespace

std::unique_ptr<CaseLauncher> MakeForkServerLauncher(const ExecutorOptions& options,
                                                     std::string* unsupported) {
  auto launcher = std::make_unique<ForkServerLauncher>(options);
  if (!launcher->StartServer(unsupported)) return nullptr;
  return launcher;
}

std::unique_ptr<CaseLauncher> MakeCaseLauncher(const ExecutorOptions& options,
                                               const std::vector<PlannedCase>& plan) {
  bool exec = options.launcher == LauncherKind::kExec || !options.wrapper.empty();
  for (const auto& planned : plan) exec = exec || !planned.extra_args.empty();
  if (exec) return MakeExecLauncher(options);
  std::string unsupported;
  try {
    if (auto launcher = MakeForkServerLauncher(options, &unsupported)) return launcher;
    std::fprintf(stderr,
                 "netns-conform: no fork server on this kernel (%s): every case starts with the "
                 "exec launcher\n",
                 unsupported.c_str());
  } catch (const InfrastructureError& e) {
    // A suite binary that cannot serve (one older than the fork server, say) still runs its
    // cases, each then reporting its own ending.
    std::fprintf(stderr, "netns-conform: %s; every case starts with the exec launcher\n", e.what());
  }
  return MakeExecLauncher(options);
}

}  // namespace conform
