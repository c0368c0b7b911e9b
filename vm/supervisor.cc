// The reuse sandbox's supervisor: its life (Run), its state, and qemu's start, boot and end. See
// vm/supervisor.h; serving the control socket is in vm/supervisor_serve.cc.
#include "vm/supervisor.h"

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
#include "vm/vm_run.h"

namespace bp = boost::process;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace conform::vm {
namespace {

// qemu's exec setup: dies with the supervisor, stays in its process group (the janitor kills
// the group), an empty signal mask and default SIGPIPE.
struct SupervisedChild : bp::extend::handler {
  explicit SupervisedChild(pid_t starter) : parent(starter) {}
  pid_t parent;
  template <class Executor>
  void on_exec_setup(Executor&) const {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
  }
};

}  // namespace

void Supervisor::SetState(State s) {
  state_ = s;
  switch (s) {
    case State::kBooting:
      info_.state = "booting";
      break;
    case State::kReady:
      info_.state = "ready";
      break;
    case State::kRunning:
    case State::kDraining:
      info_.state = "running";
      break;
    case State::kStopping:
      info_.state = "stopping";
      break;
  }
  SaveMeta();
}

bool Supervisor::StartQemu(int attempt) {
  std::error_code ec;
  fs::remove(c_.qemu.channel_socket, ec);
  if (attempt > 0)
    fs::rename(c_.qemu.console_log, c_.dir / ("console.attempt" + std::to_string(attempt) + ".log"),
               ec);
  const auto argv = QemuArgv(c_.qemu);
  try {
    qemu_ = std::make_unique<bp::child>(
        argv[0], bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
        bp::std_in<bp::null, (bp::std_out & bp::std_err)>(c_.dir / "qemu.log").string(),
        SupervisedChild(getpid()));
  } catch (const std::exception& e) {
    failure_ = "cannot start " + argv[0] + ": " + e.what();
    return false;
  }
  qemu_gone_ = false;
  info_.qemu_pid = qemu_->id();
  info_.qemu_start = StartOf(info_.qemu_pid);
  pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, info_.qemu_pid, 0)));
  if (!pidfd_) Log("pidfd_open: " + Errno(errno) + " (polling qemu instead)");
  SaveMeta();
  Log("qemu pid " + std::to_string(info_.qemu_pid) + " started (attempt " +
      std::to_string(attempt + 1) + ")");
  return true;
}

bool Supervisor::QemuExited() {
  if (qemu_gone_ || !qemu_) return true;
  std::error_code ec;
  if (!qemu_->running(ec)) {
    qemu_gone_ = true;
    const int native = qemu_->native_exit_code();
    Log("qemu exited: " + (WIFEXITED(native)     ? "status " + std::to_string(WEXITSTATUS(native))
                           : WIFSIGNALED(native) ? "signal " + std::to_string(WTERMSIG(native))
                                                 : std::string("?")));
  }
  return qemu_gone_;
}

void Supervisor::KillQemu() {
  if (!qemu_ || qemu_gone_) return;
  kill(qemu_->id(), SIGKILL);
  std::error_code ec;
  qemu_->wait(ec);
  qemu_gone_ = true;
  Log("qemu killed");
}

Supervisor::BootWait Supervisor::WaitForReady(Clock::time_point qemu_start) {
  // Connect to qemu's socket: it appears as qemu starts, well before the guest writes.
  const auto connect_deadline = qemu_start + std::max(c_.boot_timeout, milliseconds(10000));
  while (!guest_) {
    if (QemuExited()) return BootWait::kExited;
    guest_ = ConnectUnix(c_.qemu.channel_socket);
    if (guest_) break;
    if (Clock::now() > connect_deadline) return BootWait::kTimedOut;
    std::this_thread::sleep_for(milliseconds(5));
  }
  bool booted = false;
  Clock::time_point booted_at{};
  while (true) {
    const auto now = Clock::now();
    const auto deadline = booted ? booted_at + c_.boot_timeout : qemu_start + c_.boot_timeout;
    if (now > deadline) return BootWait::kTimedOut;
    pollfd fds[4] = {{guest_.get(), POLLIN, 0},
                     {sigfd_.get(), POLLIN, 0},
                     {pidfd_ ? pidfd_.get() : -1, POLLIN, 0},
                     {c_.ready_fd, 0, 0}};
    const int wait_ms = static_cast<int>(std::min<long long>(
        pidfd_ ? 1000 : 20, std::chrono::duration_cast<milliseconds>(deadline - now).count() + 1));
    const int n = poll(fds, 4, wait_ms);
    if (n < 0 && errno != EINTR) {
      failure_ = "poll: " + Errno(errno);
      return BootWait::kStopped;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sigfd_.get(), &si, sizeof(si)) > 0) {
        failure_ = "stopped by signal " + std::to_string(si.ssi_signo) + " while booting";
        return BootWait::kStopped;
      }
    }
    if (fds[3].revents & (POLLERR | POLLHUP)) {
      failure_ = "`vm start` went away while the guest booted";
      return BootWait::kStopped;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t got = read(guest_.get(), buf, sizeof(buf));
      if (got <= 0) {
        // qemu closed the socket: it is on its way out.
        guest_.reset();
        if (qemu_) {
          std::error_code ec;
          for (int i = 0; i < 200 && qemu_->running(ec); ++i)
            std::this_thread::sleep_for(milliseconds(10));
        }
        return QemuExited() ? BootWait::kExited : BootWait::kTimedOut;
      }
      boot_line_buffer_.append(buf, static_cast<size_t>(got));
      for (size_t nl; (nl = boot_line_buffer_.find('\n')) != std::string::npos;) {
        const std::string line = boot_line_buffer_.substr(0, nl);
        boot_line_buffer_.erase(0, nl + 1);
        const std::string kind = MarkerKind(line);
        if (kind == "BOOTED" && !booted) {
          booted = true;
          booted_at = Clock::now();
          info_.boot_s = Seconds(booted_at - qemu_start);
          const auto fields = MarkerFields(line);
          if (auto it = fields.find("release"); it != fields.end())
            info_.kernel_release = it->second;
          Log("BOOTED after " + Fixed(info_.boot_s) + " s");
          Tell("LOG booted in " + Fixed(info_.boot_s) + " s");
        } else if (kind == "READY") {
          info_.ready_s = Seconds(Clock::now() - qemu_start);
          Log("READY after " + Fixed(info_.ready_s) + " s");
          return BootWait::kReady;
        }
      }
      if (boot_line_buffer_.size() > kMaxMarkerLine) {
        failure_ = "the guest's channel sent garbage while booting";
        return BootWait::kStopped;
      }
    }
    if (QemuExited()) return BootWait::kExited;
  }
}

bool Supervisor::Boot() {
  for (int attempt = 0;; ++attempt) {
    Tell("LOG booting " + std::string(attempt ? "again " : "") + "(" + info_.machine + ", " +
         info_.accelerator + ", " + std::to_string(info_.memory_mib) + " MiB, " +
         std::to_string(info_.cpus) + " vCPU)");
    const auto qemu_start = Clock::now();
    if (!StartQemu(attempt)) return false;
    guest_.reset();
    boot_line_buffer_.clear();
    const BootWait w = WaitForReady(qemu_start);
    if (w == BootWait::kReady) return true;
    KillQemu();
    guest_.reset();
    if (w == BootWait::kStopped) return false;
    if (w == BootWait::kExited) {
      const int native = qemu_->native_exit_code();
      const std::string console = ReadIfThere(c_.qemu.console_log);
      const auto problems = KernelProblems(console);
      failure_ = std::string(info_.boot_s > 0 ? "the guest stopped before it was ready"
                                              : "the guest stopped before its init said BOOTED") +
                 " (qemu exit status " +
                 (WIFEXITED(native) ? std::to_string(WEXITSTATUS(native)) : std::string("-1")) +
                 ")" + (problems.empty() ? "" : "; the kernel said: " + problems.front());
      return false;
    }
    // Timed out: a hang, retried.
    if (attempt >= c_.boot_retries) {
      failure_ = "the guest did not boot: no " + std::string(info_.boot_s > 0 ? "READY" : "boot") +
                 " marker within " + Fixed(static_cast<double>(c_.boot_timeout.count()) / 1000, 0) +
                 " s, " + std::to_string(attempt + 1) + " times";
      return false;
    }
    ++info_.retries;
    info_.boot_s = 0;
    Tell("LOG no boot marker within " +
         Fixed(static_cast<double>(c_.boot_timeout.count()) / 1000, 0) + " s: killed, retrying");
  }
}

int Supervisor::Run() {
  info_.supervisor_pid = getpid();
  info_.supervisor_start = StartOf(getpid());
  info_.janitor_pid = getppid();
  info_.janitor_start = StartOf(getppid());
  info_.started_at = UnixNow();
  SaveMeta();
  Log("supervisor of guest " + info_.name + " (pid " + std::to_string(getpid()) + ")");

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&stop_signals, sig);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  sigfd_.reset(signalfd(-1, &stop_signals, SFD_CLOEXEC));
  signal(SIGPIPE, SIG_IGN);

  // Attach clients may connect from now on; they are refused until the guest is ready.
  const fs::path control = c_.dir / "control.sock";
  bool ok = true;
  try {
    const sockaddr_un addr = UnixAddress(control);
    listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listen_ || bind(listen_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) ||
        listen(listen_.get(), 8)) {
      failure_ = "cannot listen on " + control.string() + ": " + Errno(errno);
      ok = false;
    }
  } catch (const VmError& e) {
    failure_ = e.what();
    ok = false;
  }

  if (ok) ok = Boot();
  if (ok) {
    std::error_code ec;
    fs::remove(c_.qemu.initrd, ec);  // qemu read it at start
    fs::copy_file(c_.qemu.console_log, c_.dir / "console.boot.log",
                  fs::copy_options::overwrite_existing, ec);
    SetState(State::kReady);
    Tell("READY boot_s=" + Fixed(info_.boot_s, 3) + " ready_s=" + Fixed(info_.ready_s, 3));
    if (starter_gone_) {
      failure_ = "`vm start` went away before the guest was ready";
      ok = false;
      KillQemu();
    }
    close(c_.ready_fd);
    c_.ready_fd = -1;
  }
  if (!ok) {
    Log("failed: " + failure_);
    Tell("FAIL " + failure_);
    std::istringstream tail(TailLines(ReadIfThere(c_.qemu.console_log), 40));
    for (std::string line; std::getline(tail, line);) Tell("TAIL " + line);
    KillQemu();
  } else {
    Serve();
    KillQemu();
  }
  client_.reset();
  guest_.reset();
  listen_.reset();
  if (c_.ready_fd >= 0) close(c_.ready_fd);
  Log("removing " + c_.dir.string());
  RemoveDir(c_.dir);
  close(c_.lock_fd);
  RemoveEmptyRoot();
  return ok ? 0 : 1;
}

}  // namespace conform::vm
