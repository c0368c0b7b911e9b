#include "runner/fork_server_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

// As in runner/executor.cc: glibc declares vfork() under _GNU_SOURCE.
#define BOOST_POSIX_HAS_VFORK 1
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/posix.hpp>
#include <cstring>
#include <sstream>

#include "fixtures/error.h"
#include "fixtures/fork_server.h"
#include "fixtures/pidfd.h"
#include "runner/plan.h"
#include "runner/sandbox.h"
#include "vm/child_setup.h"

namespace bp = boost::process;

namespace conform {
namespace {

// How long the suite binary may take to come up as a server (TCG guests are slow to page it in).
constexpr int kReadyTimeoutMs = 60000;
// How long the server may take to kill and reap the inits still running once the socket closes.
constexpr int kShutdownTimeoutMs = 10000;

// In the forked child before exec: the server's socket survives the exec. vm::ChildSetup then
// gives the server its own process group (a terminal's ^C reaches the runner alone, which then
// stops the cases), its death with the runner, and no signal blocked.
struct ServerSocketSetup : bp::extend::handler {
  int sock;

  template <class Executor>
  void on_exec_setup(Executor&) const {
    fcntl(sock, F_SETFD, 0);
  }
};

std::string WaitStatusText(int status) {
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return std::string("was killed by SIG") + (abbrev ? abbrev : std::to_string(WTERMSIG(status)));
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

std::unique_ptr<ForkServer> ForkServer::Start(const std::filesystem::path& suite_binary,
                                              const std::map<std::string, std::string>& env,
                                              const std::filesystem::path& log, int spares,
                                              std::string* unsupported) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    throw InfrastructureError("socketpair for the fork server: " + ErrnoName(errno));
  FileDescriptor ours(pair[0]), theirs(pair[1]);
  bp::environment environment = boost::this_process::environment();
  for (const auto& [key, value] : env) environment[key] = value;
  std::unique_ptr<ForkServer> server(new ForkServer());
  try {
    server->process_ = std::make_unique<bp::child>(
        suite_binary.string(), kServeFdFlag + std::to_string(theirs.get()),
        kSparesFlag + std::to_string(spares), (bp::std_out & bp::std_err) > log.string(),
        bp::std_in < bp::null, environment, ServerSocketSetup{.sock = theirs.get()},
        vm::ChildSetup(getpid()));
  } catch (const std::exception& e) {
    throw InfrastructureError("cannot start the fork server " + suite_binary.string() + ": " +
                              e.what());
  }
  theirs.reset();
  server->sock_ = std::move(ours);

  pollfd ready{server->sock_.get(), POLLIN, 0};
  int polled;
  do {
    polled = poll(&ready, 1, kReadyTimeoutMs);
  } while (polled < 0 && errno == EINTR);
  auto hello = polled > 0 ? ReceiveSocketMessage(server->sock_.get()) : std::nullopt;
  if (hello && hello->text.rfind("UNSUPPORTED ", 0) == 0) {
    *unsupported = hello->text.substr(std::strlen("UNSUPPORTED "));
    return nullptr;
  }
  if (!hello || hello->text.rfind("READY ", 0) != 0) {
    std::string why;
    if (polled > 0 && !hello) {
      why = server->DeathText();  // its end of the socket closed: it is gone
    } else {
      why = polled == 0 ? "no answer in 60 s" : "it answered '" + hello->text + "'";
      kill(server->process_->id(), SIGKILL);
    }
    server->process_->wait();
    server->process_.reset();
    throw InfrastructureError("the fork server " + suite_binary.string() + " did not get ready (" +
                              why + "); see " + log.string());
  }
  fcntl(server->sock_.get(), F_SETFL, O_NONBLOCK);
  return server;
}

ForkServer::~ForkServer() {
  if (!process_) return;
  sock_.reset();
  // The server kills and reaps the inits still running, then exits; it gets a bounded time.
  FileDescriptor pidfd(PidfdOpen(process_->id()));
  pollfd gone{pidfd.get(), POLLIN, 0};
  if (pidfd && poll(&gone, 1, kShutdownTimeoutMs) == 0) PidfdSendSignal(pidfd.get(), SIGKILL);
  std::error_code ec;
  process_->wait(ec);
}

bool ForkServer::Launch(size_t token, const std::string& id, bool new_pid_ns, int log_fd,
                        int result_fd) {
  if (dead_) return false;
  const std::string request =
      "RUN " + std::to_string(token) + " " + (new_pid_ns ? "1" : "0") + " " + id;
  return SendSocketMessage(sock_.get(), request, {log_fd, result_fd});
}

std::vector<ForkServerEvent> ForkServer::Receive() {
  std::vector<ForkServerEvent> events;
  while (!dead_) {
    auto message = ReceiveSocketMessage(sock_.get());
    if (!message) {
      if (errno != EAGAIN) dead_ = true;  // EOF: the server is gone
      break;
    }
    std::istringstream in(message->text);
    std::string verb;
    ForkServerEvent event;
    in >> verb >> event.token;
    if (verb == "STARTED" && message->fds.size() == 1) {
      event.kind = ForkServerEvent::Kind::kStarted;
      in >> event.pid;
      event.pidfd = std::move(message->fds[0]);
    } else if (verb == "DONE") {
      event.kind = ForkServerEvent::Kind::kDone;
      in >> event.wait_status;
    } else if (verb == "FAILED") {
      event.kind = ForkServerEvent::Kind::kFailed;
      std::getline(in >> std::ws, event.error);
    } else {
      continue;  // nothing else is sent; an unknown message is not worth a run
    }
    events.push_back(std::move(event));
  }
  return events;
}

std::string ForkServer::DeathText() {
  std::error_code ec;
  process_->wait(ec);
  if (ec) return "its end is unknown: " + ec.message();
  return WaitStatusText(process_->native_exit_code());
}

}  // namespace conform
