#include "tests/ref_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "fixtures/error.h"

namespace conform::reftest {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, INT_MAX));
}

std::pair<FileDescriptor, FileDescriptor> MakePipe() {
  int fds[2];
  CheckSyscall(pipe2(fds, O_CLOEXEC), "pipe2");
  return {FileDescriptor(fds[0]), FileDescriptor(fds[1])};
}

// Appends what one read gives; false at EOF (or error).
bool ReadSome(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    into.append(buf, static_cast<size_t>(n));
    return true;
  }
}

}  // namespace

std::string ProcessResult::Describe() const {
  std::string text = timed_out     ? "timed out"
                     : term_signal ? "killed by signal " + std::to_string(term_signal)
                                   : "exit " + std::to_string(exit_code);
  return text + "; stdout: [" + out + "]; stderr: [" + err + "]";
}

Process::Process(const std::vector<std::string>& argv, bool pipe_stdin) {
  auto [out_read, out_write] = MakePipe();
  auto [err_read, err_write] = MakePipe();
  FileDescriptor in_read;
  if (pipe_stdin) {
    auto [r, w] = MakePipe();
    in_read = std::move(r);
    stdin_ = std::move(w);
  } else {
    in_read.reset(CheckSyscall(open("/dev/null", O_RDONLY | O_CLOEXEC), "open /dev/null"));
  }
  // Everything the child needs is built before fork: between fork and exec only syscalls.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = static_cast<pid_t>(CheckSyscall(fork(), "fork"));
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);
    dup2(in_read.get(), 0);
    dup2(out_write.get(), 1);
    dup2(err_write.get(), 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  pidfd_.reset(static_cast<int>(CheckSyscall(syscall(SYS_pidfd_open, pid_, 0), "pidfd_open")));
  stdout_ = std::move(out_read);
  stderr_ = std::move(err_read);
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::optional<std::string> Process::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto newline = out_buffer_.find('\n'); newline != std::string::npos) {
      std::string line = out_buffer_.substr(0, newline);
      out_buffer_.erase(0, newline + 1);
      return line;
    }
    if (!stdout_) return std::nullopt;
    pollfd fd{stdout_.get(), POLLIN, 0};
    const int n = poll(&fd, 1, MillisLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (!ReadSome(stdout_.get(), out_buffer_)) stdout_.reset();
  }
}

ProcessResult Process::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  ProcessResult result;
  stdin_.reset();
  bool exited = false;
  while (!exited || stdout_ || stderr_) {
    std::vector<pollfd> fds;
    if (stdout_) fds.push_back({stdout_.get(), POLLIN, 0});
    if (stderr_) fds.push_back({stderr_.get(), POLLIN, 0});
    if (!exited) fds.push_back({pidfd_.get(), POLLIN, 0});
    const int n = poll(fds.data(), fds.size(), MillisLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.timed_out = true;
      kill(pid_, SIGKILL);
      break;
    }
    for (const auto& fd : fds) {
      if (!fd.revents) continue;
      if (fd.fd == pidfd_.get()) {
        exited = true;
      } else if (fd.fd == stdout_.get()) {
        if (!ReadSome(fd.fd, out_buffer_)) stdout_.reset();
      } else if (!ReadSome(fd.fd, err_buffer_)) {
        stderr_.reset();
      }
    }
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (!result.timed_out) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  }
  result.out = std::move(out_buffer_);
  result.err = std::move(err_buffer_);
  return result;
}

ProcessResult Run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Process process(argv);
  return process.Wait(timeout);
}

}  // namespace conform::reftest
