#include "toolconf/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "fixtures/error.h"

namespace conform::toolconf {
namespace {

using Clock = std::chrono::steady_clock;

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Appends whatever is readable on fd now; false at end of file.
bool Drain(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EINTR;
  }
}

}  // namespace

std::string Outcome::DescribeExit() const {
  if (timed_out) return "timed out (killed)";
  if (signal) return "killed by " + SignalName(signal);
  return "exit " + std::to_string(status);
}

Background::Background(Background&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::move(other.out_fd_)),
      err_fd_(std::move(other.err_fd_)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

Background& Background::operator=(Background&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Stop();
    pid_ = std::exchange(other.pid_, -1);
    out_fd_ = std::move(other.out_fd_);
    err_fd_ = std::move(other.err_fd_);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
  }
  return *this;
}

Background::~Background() {
  if (pid_ > 0) Stop();
}

Background Background::Start(const std::vector<std::string>& argv) {
  int out[2], err[2];
  CheckSyscall(pipe2(out, O_CLOEXEC), "pipe2");
  CheckSyscall(pipe2(err, O_CLOEXEC), "pipe2");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  CheckSyscall(pid, "fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here on: the parent may have had threads.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out[1], 1);
    dup2(err[1], 2);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    const char* msg = "netns-conform: cannot execute the tool: ";
    (void)!write(2, msg, strlen(msg));
    (void)!write(2, args[0], strlen(args[0]));
    (void)!write(2, "\n", 1);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  Background bg;
  bg.pid_ = pid;
  bg.out_fd_.reset(out[0]);
  bg.err_fd_.reset(err[0]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  return bg;
}

void Background::Pump(std::chrono::milliseconds wait) {
  pollfd fds[2] = {{out_fd_.get(), POLLIN, 0}, {err_fd_.get(), POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(wait.count())) <= 0) return;
  if (out_fd_ && !Drain(out_fd_.get(), out_)) out_fd_.reset();
  if (err_fd_ && !Drain(err_fd_.get(), err_)) err_fd_.reset();
}

Outcome Background::Finish(std::chrono::milliseconds timeout) {
  Outcome outcome;
  const auto deadline = Clock::now() + timeout;
  bool killed = false;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (!killed && Clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      killed = true;
    }
    // Reading keeps a chatty tool from blocking on a full pipe; the poll is the wait.
    pollfd fds[2] = {{out_fd_.get(), POLLIN, 0}, {err_fd_.get(), POLLIN, 0}};
    poll(fds, 2, 5);
    if (out_fd_ && (fds[0].revents & (POLLIN | POLLHUP)) && !Drain(out_fd_.get(), out_))
      out_fd_.reset();
    if (err_fd_ && (fds[1].revents & (POLLIN | POLLHUP)) && !Drain(err_fd_.get(), err_))
      err_fd_.reset();
  }
  pid_ = -1;
  // The pipes may be held by grandchildren; read what is there without waiting for them.
  if (out_fd_) Drain(out_fd_.get(), out_);
  if (err_fd_) Drain(err_fd_.get(), err_);
  out_fd_.reset();
  err_fd_.reset();
  outcome.timed_out = killed;
  if (WIFEXITED(status)) outcome.status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  outcome.out = std::move(out_);
  outcome.err = std::move(err_);
  return outcome;
}

Outcome Background::Stop() {
  if (pid_ <= 0) return Outcome{};
  kill(pid_, SIGTERM);
  Outcome outcome = Finish(std::chrono::seconds(5));
  outcome.timed_out = false;  // stopping it was the point
  return outcome;
}

Outcome Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  return Background::Start(argv).Finish(timeout);
}

std::string ShowArgv(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) {
    if (!text.empty()) text += ' ';
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-./=:,+@%") == std::string::npos;
    if (plain) {
      text += a;
      continue;
    }
    text += '\'';
    for (char c : a) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
    text += '\'';
  }
  return text;
}

}  // namespace conform::toolconf
