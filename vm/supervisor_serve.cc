// The reuse sandbox's supervisor once the guest is ready: the control socket's server side
// (accepting a client, reading its run request, refusing what it may not ask), relaying a run's
// bytes between the guest and the client, and stopping. See vm/supervisor.h and vm/reuse.h.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstdio>
#include <sstream>
#include <thread>

#include "vm/error.h"
#include "vm/guest_state.h"
#include "vm/processes.h"
#include "vm/supervisor.h"
#include "vm/vm_run.h"

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace conform::vm {

void Supervisor::BeginStop(const std::string& why) {
  Log("stop: " + why);
  if (state_ == State::kStopping) {  // asked twice: no more grace
    KillQemu();
    return;
  }
  stop_requested_ = true;
  const bool idle = state_ == State::kReady && !client_;
  SetState(State::kStopping);
  if (idle && guest_ && SendAll(guest_.get(), "NCVM 1 POWEROFF\n")) {
    stop_deadline_ = Clock::now() + kStopGrace;
  } else {
    KillQemu();
  }
}

void Supervisor::DropClient(const std::string& why) {
  if (!client_) return;
  Log("client dropped: " + why);
  client_.reset();
  client_request_.clear();
  if (state_ == State::kRunning) {
    // Nobody wants this run's results any more: ask the guest to cut it short, then drain.
    if (guest_) SendAll(guest_.get(), "NCVM 1 ABORT\n");
    state_ = State::kDraining;
  }
}

void Supervisor::FinishRun() {
  ++info_.runs;
  Log("run " + std::to_string(info_.current_run) + " ended");
  info_.current_run = 0;
  client_.reset();
  client_request_.clear();
  client_accepted_ = false;
  scanner_.Reset();
  SetState(State::kReady);
}

void Supervisor::OnGuestBytes(std::string_view data) {
  if (state_ != State::kRunning && state_ != State::kDraining) {
    Log("unexpected bytes from the guest between runs: " + std::to_string(data.size()));
    return;
  }
  const size_t used = scanner_.Feed(data);
  if (client_ && !SendAll(client_.get(), data.substr(0, used)))
    DropClient("cannot write to it: " + Errno(errno));
  if (scanner_.broken()) {
    BeginStop("the guest's channel cannot be read any more");
    return;
  }
  if (scanner_.ended()) {
    if (used < data.size())
      Log("the guest sent " + std::to_string(data.size() - used) + " bytes after END");
    FinishRun();
  }
}

void Supervisor::StartRun() {
  // client_request_: "NCVM 1 RUN argc=<k>\n" and k lines, checked by OnClientBytes.
  const size_t nl = client_request_.find('\n');
  const auto fields = MarkerFields(client_request_.substr(0, nl));
  const std::string args = client_request_.substr(nl + 1);
  const int run = info_.runs + 1;
  info_.current_run = run;
  SetState(State::kRunning);
  scanner_.Reset();
  client_accepted_ = true;
  Log("run " + std::to_string(run) + " accepted");
  if (!SendAll(client_.get(), "NCVM 1 ACCEPTED run=" + std::to_string(run) + "\n")) {
    DropClient("cannot write to it");
  }
  const std::string request =
      "NCVM 1 RUN run=" + std::to_string(run) + " argc=" + fields.at("argc") + "\n" + args;
  if (!guest_ || !SendAll(guest_.get(), request)) BeginStop("cannot write to the guest");
}

void Supervisor::OnClientBytes() {
  char buf[4096];
  const ssize_t got = recv(client_.get(), buf, sizeof(buf), MSG_DONTWAIT);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) {
    DropClient("it closed the connection");
    return;
  }
  client_request_.append(buf, static_cast<size_t>(got));
  if (client_accepted_) {
    // During a run a client may only ask to abort it.
    for (size_t nl; (nl = client_request_.find('\n')) != std::string::npos;) {
      const std::string line = client_request_.substr(0, nl);
      client_request_.erase(0, nl + 1);
      if (line == "NCVM 1 ABORT" && guest_ && state_ == State::kRunning) {
        Log("run " + std::to_string(info_.current_run) + ": abort asked for");
        SendAll(guest_.get(), "NCVM 1 ABORT\n");
      }
    }
    if (client_request_.size() > 4096) DropClient("it sends garbage");
    return;
  }
  auto refuse = [&](const std::string& why) {
    SendAll(client_.get(), "NCVM 1 REFUSED " + why + "\n");
    DropClient("refused: " + why);
  };
  const size_t nl = client_request_.find('\n');
  if (nl == std::string::npos) {
    if (client_request_.size() > 256) refuse("a request line that does not end");
    return;
  }
  const std::string first = client_request_.substr(0, nl);
  const auto fields = MarkerFields(first);
  const auto argc_it = fields.find("argc");
  if (MarkerKind(first) != "RUN" || argc_it == fields.end() || argc_it->second.empty() ||
      argc_it->second.size() > 3 ||
      argc_it->second.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(argc_it->second) > kMaxRunArgs)
    return refuse("a request that is not \"NCVM 1 RUN argc=<k>\" with k <= 256");
  const int argc = std::stoi(argc_it->second);
  size_t at = nl + 1;
  for (int i = 0; i < argc; ++i) {
    const size_t end = client_request_.find('\n', at);
    if (end == std::string::npos) {
      if (client_request_.size() - at > kMaxRunArgBytes)
        refuse("an argument longer than 4096 bytes");
      return;  // more to come
    }
    if (end - at > kMaxRunArgBytes) return refuse("an argument longer than 4096 bytes");
    at = end + 1;
  }
  if (at != client_request_.size()) return refuse("bytes after the request");
  if (state_ != State::kReady) return refuse("the guest is not ready (" + info_.state + ")");
  StartRun();
}

void Supervisor::OnAccept() {
  Fd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != geteuid()) {
    SendAll(fd.get(), "NCVM 1 REFUSED only uid " + std::to_string(geteuid()) + " may attach\n");
    return;
  }
  if (client_ || state_ != State::kReady) {
    const std::string why =
        state_ == State::kStopping ? "the guest is stopping"
        : info_.current_run ? "busy: run " + std::to_string(info_.current_run) + " is in progress"
                            : "busy: another client is attached";
    SendAll(fd.get(), "NCVM 1 REFUSED " + why + "\n");
    return;
  }
  timeval tv{.tv_sec = 30, .tv_usec = 0};  // a client that stops reading is dropped
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  client_ = std::move(fd);
  client_request_.clear();
  client_accepted_ = false;
  client_deadline_ = Clock::now() + milliseconds(10000);
}

void Supervisor::Serve() {
  while (!QemuExited()) {
    const auto now = Clock::now();
    if (state_ == State::kStopping && stop_deadline_ != Clock::time_point{} &&
        now > stop_deadline_) {
      Log("the guest did not power off within " +
          Fixed(static_cast<double>(kStopGrace.count()) / 1000, 0) + " s");
      KillQemu();
      break;
    }
    if (client_ && !client_accepted_ && now > client_deadline_)
      DropClient("no complete request within 10 s");
    std::vector<pollfd> fds = {{sigfd_.get(), POLLIN, 0},
                               {pidfd_ ? pidfd_.get() : -1, POLLIN, 0},
                               {guest_ ? guest_.get() : -1, POLLIN, 0},
                               {listen_ ? listen_.get() : -1, POLLIN, 0},
                               {client_ ? client_.get() : -1, POLLIN, 0}};
    const int n = poll(fds.data(), fds.size(), pidfd_ ? 500 : 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log("poll: " + Errno(errno));
      KillQemu();
      break;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sigfd_.get(), &si, sizeof(si)) > 0)
        BeginStop("signal " + std::to_string(si.ssi_signo) + " from pid " +
                  std::to_string(si.ssi_pid));
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      std::string buf(size_t{1} << 16, '\0');
      const ssize_t got = read(guest_.get(), buf.data(), buf.size());
      if (got > 0) {
        OnGuestBytes(std::string_view(buf.data(), static_cast<size_t>(got)));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        Log("qemu closed the guest's channel");
        guest_.reset();
        // qemu is on its way out (power-off, crash); give it a moment, then make sure.
        std::error_code ec;
        for (int i = 0; i < 300 && qemu_->running(ec); ++i)
          std::this_thread::sleep_for(milliseconds(10));
        KillQemu();
        break;
      }
    }
    if (fds[3].revents & POLLIN) OnAccept();
    if (client_ && (fds[4].revents & (POLLIN | POLLHUP | POLLERR))) OnClientBytes();
  }
}

}  // namespace conform::vm
