#include "vm/reuse.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "vm/channel.h"
#include "vm/cpio.h"
#include "vm/error.h"
#include "vm/tools.h"

namespace bp = boost::process;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace conform::vm {
namespace {

constexpr std::string_view kMarker = "NCVM 1 ";
constexpr size_t kMaxLine = size_t{16} << 20;
constexpr int kMaxArgs = 256;
constexpr size_t kMaxArgBytes = 4096;
constexpr milliseconds kStopGrace{5000};    // POWEROFF -> qemu gone, else SIGKILL
constexpr milliseconds kCleanupWait{5000};  // a dead supervisor's janitor cleaning up

// ---------------------------------------------------------------------------------------------
// Small helpers

double UnixNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Fixed(double s, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, s);
  return buf;
}

std::string Errno(int e) { return std::strerror(e); }

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

struct ProcStat {
  char state = '?';
  unsigned long long start = 0;
};

// /proc/<pid>/stat: state (field 3) and starttime (field 22).
std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 1));
  std::vector<std::string> f;
  for (std::string w; fields >> w;) f.push_back(w);
  if (f.size() < 20) return std::nullopt;
  ProcStat st;
  st.state = f[0].empty() ? '?' : f[0][0];
  st.start = std::strtoull(f[19].c_str(), nullptr, 10);
  return st;
}

// Running (not a zombie), and the same process as when `start` was read (pids are reused).
bool ProcessAlive(pid_t pid, unsigned long long start) {
  auto st = ReadProcStat(pid);
  if (!st || st->state == 'Z' || st->state == 'X') return false;
  return start == 0 || st->start == start;
}

unsigned long long StartOf(pid_t pid) {
  auto st = ReadProcStat(pid);
  return st ? st->start : 0;
}

void CloseFdsExcept(const std::set<int>& keep) {
  std::vector<int> fds;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") == std::string::npos) fds.push_back(std::stoi(name));
  }
  for (int fd : fds)
    if (fd > 2 && !keep.count(fd)) close(fd);
}

// stdin from /dev/null; stdout and stderr to `log` (or /dev/null).
void RedirectStdio(const fs::path& log) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int out = log.empty() ? -1 : open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) out = null_fd;
  if (null_fd >= 0) dup2(null_fd, 0);
  if (out >= 0) {
    dup2(out, 1);
    dup2(out, 2);
  }
  if (out >= 0 && out != null_fd) close(out);
  if (null_fd >= 0) close(null_fd);
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

sockaddr_un UnixAddress(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof(addr.sun_path))
    throw VmError("socket path too long (" + std::to_string(s.size()) + " bytes, at most " +
                  std::to_string(sizeof(addr.sun_path) - 1) + "): " + s);
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

// A connected stream socket, or an invalid Fd with errno set.
Fd ConnectUnix(const fs::path& path) {
  const sockaddr_un addr = UnixAddress(path);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    fd.reset();
    errno = e;
  }
  return fd;
}

std::map<std::string, std::string> MarkerFields(std::string_view line) {
  std::map<std::string, std::string> fields;
  std::istringstream words{std::string(line)};
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return fields;
}

std::string MarkerKind(std::string_view line) {
  if (line.rfind(kMarker, 0) != 0) return "";
  line.remove_prefix(kMarker.size());
  return std::string(line.substr(0, line.find(' ')));
}

std::string ReadIfThere(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "";
  try {
    return ReadFile(path);
  } catch (const VmError&) {
    return "";
  }
}

std::string FileStamp(const fs::path& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
// meta.json

nlohmann::json InfoToJson(const GuestInfo& g) {
  return {{"name", g.name},
          {"state", g.state},
          {"kernel", g.kernel_label},
          {"kernel_name", g.kernel_name},
          {"kernel_release", g.kernel_release},
          {"kernel_package", g.kernel_package},
          {"kernel_version", g.kernel_version},
          {"kernel_config", g.kernel_config},
          {"kernel_config_source", g.kernel_config_source},
          {"machine", g.machine},
          {"accelerator", g.accelerator},
          {"machine_note", g.machine_note},
          {"memory_mib", g.memory_mib},
          {"cpus", g.cpus},
          {"supervisor_pid", g.supervisor_pid},
          {"supervisor_start", g.supervisor_start},
          {"janitor_pid", g.janitor_pid},
          {"janitor_start", g.janitor_start},
          {"qemu_pid", g.qemu_pid},
          {"qemu_start", g.qemu_start},
          {"started_at", g.started_at},
          {"boot_s", g.boot_s},
          {"ready_s", g.ready_s},
          {"retries", g.retries},
          {"runs", g.runs},
          {"current_run", g.current_run},
          {"suite_binary", g.suite_binary},
          {"runner_binary", g.runner_binary},
          {"suite_stamp", g.suite_stamp}};
}

GuestInfo InfoFromJson(const nlohmann::json& j) {
  GuestInfo g;
  auto str = [&](const char* key) { return j.value(key, std::string()); };
  g.name = str("name");
  g.state = str("state");
  g.kernel_label = str("kernel");
  g.kernel_name = str("kernel_name");
  g.kernel_release = str("kernel_release");
  g.kernel_package = str("kernel_package");
  g.kernel_version = str("kernel_version");
  g.kernel_config = str("kernel_config");
  g.kernel_config_source = str("kernel_config_source");
  g.machine = str("machine");
  g.accelerator = str("accelerator");
  g.machine_note = str("machine_note");
  g.memory_mib = j.value("memory_mib", 0);
  g.cpus = j.value("cpus", 0);
  g.supervisor_pid = j.value("supervisor_pid", 0);
  g.supervisor_start = j.value("supervisor_start", 0ULL);
  g.janitor_pid = j.value("janitor_pid", 0);
  g.janitor_start = j.value("janitor_start", 0ULL);
  g.qemu_pid = j.value("qemu_pid", 0);
  g.qemu_start = j.value("qemu_start", 0ULL);
  g.started_at = j.value("started_at", 0.0);
  g.boot_s = j.value("boot_s", 0.0);
  g.ready_s = j.value("ready_s", 0.0);
  g.retries = j.value("retries", 0);
  g.runs = j.value("runs", 0);
  g.current_run = j.value("current_run", 0);
  g.suite_binary = str("suite_binary");
  g.runner_binary = str("runner_binary");
  g.suite_stamp = str("suite_stamp");
  return g;
}

void WriteMeta(const fs::path& dir, const GuestInfo& g) {
  WriteFileReplacing(dir / "meta.json", InfoToJson(g).dump(2) + "\n", 0600);
}

std::optional<GuestInfo> ReadMeta(const fs::path& dir) {
  const std::string text = ReadIfThere(dir / "meta.json");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    GuestInfo g = InfoFromJson(j);
    g.state_dir = dir;
    return g;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// ---------------------------------------------------------------------------------------------
// State folders

bool IsDefaultRoot(const fs::path& root) { return root == "/run/netns-conform/vm"; }

// Removes the root (and /run/netns-conform for the default root) when empty; a concurrent start
// that loses its parent folder makes it again.
void RemoveEmptyRoot() {
  const fs::path root = GuestStateRoot();
  if (rmdir(root.c_str()) == 0 && IsDefaultRoot(root)) rmdir(root.parent_path().c_str());
}

unsigned trash_counter = 0;

// Renames `dir` aside and removes it: its name is free the moment the rename is done.
void RemoveDir(const fs::path& dir) {
  const fs::path trash = dir.parent_path() / (".trash-" + std::to_string(getpid()) + "-" +
                                              std::to_string(++trash_counter));
  std::error_code ec;
  if (rename(dir.c_str(), trash.c_str()) == 0) {
    fs::remove_all(trash, ec);
  } else if (errno != ENOENT) {
    fs::remove_all(dir, ec);
  }
}

// Removes `dir` when no supervisor holds its lock. True: it is gone (or was never there).
bool CleanIfStale(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  Fd lock(open((dir / "lock").c_str(), O_RDONLY | O_CLOEXEC));
  if (!lock) {
    if (errno != ENOENT) return false;
    RemoveDir(dir);  // not a state folder this code made: a lock is made before the name is
    return true;
  }
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // a supervisor holds it
  struct stat held {
  }, now{};
  if (fstat(lock.get(), &held) != 0 || stat((dir / "lock").c_str(), &now) != 0 ||
      held.st_ino != now.st_ino || held.st_dev != now.st_dev)
    return !fs::exists(dir, ec);  // replaced meanwhile: someone else's now
  RemoveDir(dir);
  return true;
}

// Leftovers of starts and removals that were killed midway.
void CleanDebris(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".trash-", 0) == 0) {
      const std::string pid = name.substr(7, name.find('-', 7) - 7);
      if (!ProcessAlive(std::atoi(pid.c_str()), 0)) fs::remove_all(entry.path(), ec);
    } else if (name.rfind(".new-", 0) == 0) {
      if (!ProcessAlive(std::atoi(name.substr(5).c_str()), 0)) fs::remove_all(entry.path(), ec);
    }
  }
}

// The guest in `dir` when its supervisor is alive. A folder whose lock is held but whose
// supervisor is dead is being cleaned by its janitor: waited for.
std::optional<GuestInfo> LiveGuest(const fs::path& dir) {
  const auto deadline = Clock::now() + kCleanupWait;
  while (true) {
    if (CleanIfStale(dir)) return std::nullopt;
    auto info = ReadMeta(dir);
    if (info && ProcessAlive(info->supervisor_pid, info->supervisor_start)) return info;
    if (Clock::now() > deadline) return info;  // held by someone; report what it says
    std::this_thread::sleep_for(milliseconds(20));
  }
}

void CheckStatePath(const fs::path& root, const std::string& name) {
  const std::string s = root.string();
  if (s.find(',') != std::string::npos)
    throw VmError("the VM state folder must not contain a comma (qemu options): " + s);
  UnixAddress(root / name / "control.sock");  // throws when too long
}

// ---------------------------------------------------------------------------------------------
// The supervisor

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

struct SupervisorConfig {
  fs::path dir;
  QemuConfig qemu;
  GuestInfo info;
  milliseconds boot_timeout{30000};
  int boot_retries = 1;
  int lock_fd = -1;
  int ready_fd = -1;  // to `vm start`: LOG/READY/FAIL/TAIL lines
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorConfig config) : c_(std::move(config)), info_(c_.info) {}
  int Run();

 private:
  enum class State { kBooting, kReady, kRunning, kDraining, kStopping };

  void Log(const std::string& line) {
    std::fprintf(stderr, "[%8.3f] %s\n", Seconds(Clock::now() - born_), line.c_str());
    std::fflush(stderr);
  }
  void Tell(const std::string& line) {  // to `vm start`, while it waits
    if (c_.ready_fd >= 0 && !WriteAll(c_.ready_fd, line + "\n")) starter_gone_ = true;
  }
  void SetState(State s);
  void SaveMeta() {
    try {
      WriteMeta(c_.dir, info_);
    } catch (const VmError& e) {
      Log(std::string("meta.json: ") + e.what());
    }
  }
  bool StartQemu(int attempt);
  void KillQemu();
  bool QemuExited();
  // Boots (with retries); true when READY was seen. Otherwise `failure_` says why.
  bool Boot();
  enum class BootWait { kReady, kTimedOut, kExited, kStopped };
  BootWait WaitForReady(Clock::time_point qemu_start);
  void Serve();
  void OnGuestBytes(std::string_view data);
  void OnClientBytes();
  void OnAccept();
  void StartRun();
  void DropClient(const std::string& why);
  void BeginStop(const std::string& why);
  void FinishRun();

  SupervisorConfig c_;
  GuestInfo info_;
  const Clock::time_point born_ = Clock::now();
  State state_ = State::kBooting;
  std::unique_ptr<bp::child> qemu_;
  Fd pidfd_, guest_, listen_, client_, sigfd_;
  bool qemu_gone_ = false, starter_gone_ = false;
  std::string failure_;
  ChannelScanner scanner_;
  std::string client_request_;
  bool client_accepted_ = false;
  Clock::time_point client_deadline_{}, stop_deadline_{};
  bool stop_requested_ = false;
  std::string boot_line_buffer_;
};

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
      if (boot_line_buffer_.size() > kMaxLine) {
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
      std::stoi(argc_it->second) > kMaxArgs)
    return refuse("a request that is not \"NCVM 1 RUN argc=<k>\" with k <= 256");
  const int argc = std::stoi(argc_it->second);
  size_t at = nl + 1;
  for (int i = 0; i < argc; ++i) {
    const size_t end = client_request_.find('\n', at);
    if (end == std::string::npos) {
      if (client_request_.size() - at > kMaxArgBytes) refuse("an argument longer than 4096 bytes");
      return;  // more to come
    }
    if (end - at > kMaxArgBytes) return refuse("an argument longer than 4096 bytes");
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

// The janitor: parent of the supervisor; when it ends, nothing of the guest may stay.
[[noreturn]] void JanitorMain(SupervisorConfig config) {
  prctl(PR_SET_NAME, "ncvm-janitor");
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  RedirectStdio({});
  const pid_t supervisor = fork();
  if (supervisor == 0) {
    setpgid(0, 0);
    prctl(PR_SET_NAME, "ncvm-supervise");
    RedirectStdio(config.dir / "supervisor.log");
    CloseFdsExcept({config.lock_fd, config.ready_fd});
    const fs::path dir = config.dir;
    int status = 1;
    try {
      status = Supervisor(std::move(config)).Run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "supervisor: %s\n", e.what());
      RemoveDir(dir);
    }
    _exit(status);
  }
  if (supervisor < 0) {
    WriteAll(config.ready_fd, "FAIL cannot fork the supervisor: " + Errno(errno) + "\n");
    RemoveDir(config.dir);
    _exit(1);
  }
  setpgid(supervisor, supervisor);  // as the child does: no window where it shares ours
  CloseFdsExcept({});
  int status = 0;
  while (true) {
    const pid_t p = waitpid(-1, &status, 0);
    if (p == supervisor || (p < 0 && errno == ECHILD)) break;
  }
  // qemu has PR_SET_PDEATHSIG; the group kill also takes anything else the supervisor left.
  kill(-supervisor, SIGKILL);
  const auto deadline = Clock::now() + milliseconds(10000);
  while (Clock::now() < deadline) {
    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
    if (kill(-supervisor, 0) != 0 && errno == ESRCH) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
  CleanIfStale(config.dir);
  RemoveEmptyRoot();
  _exit(0);
}

std::string ServeArchive() {
  CpioWriter cpio;
  cpio.File("/etc/netns-conform/serve", "1\n");
  return cpio.Finish();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ChannelScanner

size_t ChannelScanner::Feed(std::string_view bytes,
                            const std::function<void(std::string_view)>& on_line) {
  size_t at = 0;
  while (at < bytes.size() && !ended_ && !broken_) {
    if (skip_ > 0) {
      const size_t n = static_cast<size_t>(std::min<unsigned long long>(skip_, bytes.size() - at));
      skip_ -= n;
      at += n;
      continue;
    }
    const size_t nl = bytes.find('\n', at);
    if (nl == std::string_view::npos) {
      line_.append(bytes.substr(at));
      at = bytes.size();
      if (line_.size() > kMaxLine) broken_ = true;
      break;
    }
    line_.append(bytes.substr(at, nl - at));
    at = nl + 1;
    const std::string line = std::exchange(line_, std::string());
    const std::string kind = MarkerKind(line);
    if (kind.empty()) continue;  // J lines and anything else
    if (on_line) on_line(line);
    if (kind == "END") {
      ended_ = true;
    } else if (kind == "DMESG" || kind == "RUNLOG" || kind == "RESULTS") {
      const auto fields = MarkerFields(line);
      auto it = fields.find("size");
      if (it == fields.end() || it->second.empty() || it->second.size() > 15 ||
          it->second.find_first_not_of("0123456789") != std::string::npos) {
        broken_ = true;
      } else {
        skip_ = std::stoull(it->second);
      }
    }
  }
  return at;
}

// ---------------------------------------------------------------------------------------------
// Public API

fs::path GuestStateRoot() {
  const char* env = std::getenv("NETNS_CONFORM_VM_DIR");
  if (env && *env) return fs::absolute(env).lexically_normal();
  return "/run/netns-conform/vm";
}

bool ValidGuestName(const std::string& name) {
  if (name.empty() || name.size() > 32 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
  });
}

nlohmann::json GuestInfoToJson(const GuestInfo& guest) {
  nlohmann::json j = InfoToJson(guest);
  j["uptime_s"] = guest.uptime_s();
  j["state_dir"] = guest.state_dir.string();
  return j;
}

double GuestInfo::uptime_s() const { return started_at > 0 ? UnixNow() - started_at : 0; }

std::vector<GuestInfo> ListGuests() {
  const fs::path root = GuestStateRoot();
  std::vector<GuestInfo> guests;
  std::error_code ec;
  if (!fs::exists(root, ec)) return guests;
  CleanDebris(root);
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && entry.is_directory(ec)) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs)
    if (auto info = LiveGuest(dir)) guests.push_back(*info);
  RemoveEmptyRoot();
  return guests;
}

std::optional<GuestInfo> FindGuest(const std::string& name) {
  if (!ValidGuestName(name)) return std::nullopt;
  const fs::path root = GuestStateRoot();
  auto info = LiveGuest(root / name);
  if (!info) RemoveEmptyRoot();
  return info;
}

GuestInfo StartGuest(const GuestStartOptions& o, std::string* console_tail) {
  const auto start = Clock::now();
  auto say = [&](const std::string& line) {
    if (o.vm.log) o.vm.log(line);
  };
  if (!ValidGuestName(o.name))
    throw VmError("bad guest name '" + o.name +
                  "': 1 to 32 of letters, digits, '.', '_', '-', starting with a letter or digit");
  const fs::path root = GuestStateRoot();
  CheckStatePath(root, o.name);
  if (auto running = FindGuest(o.name))
    throw VmError("a guest named " + o.name + " is already running (kernel " +
                  running->kernel_label + ", supervisor pid " +
                  std::to_string(running->supervisor_pid) + "); `netns-conform vm stop " + o.name +
                  "` first");

  VmRunResult r;
  GuestPlan plan = PlanGuest(o.vm, r);

  GuestInfo info;
  info.name = o.name;
  info.state = "booting";
  info.kernel_label = o.kernel_label;
  info.kernel_name = r.kernel_name;
  info.kernel_release = r.kernel_release;
  info.kernel_package = r.kernel_package;
  info.kernel_version = r.kernel_version;
  info.kernel_config = r.kernel_config.string();
  info.kernel_config_source = r.kernel_config_source;
  info.machine = r.machine;
  info.accelerator = r.accelerator;
  info.machine_note = r.machine_note;
  info.memory_mib = plan.qemu.memory_mib;
  info.cpus = plan.qemu.cpus;
  info.suite_binary = fs::absolute(o.vm.suite_binary).string();
  info.runner_binary = fs::absolute(o.vm.runner_binary).string();
  info.suite_stamp = FileStamp(o.vm.suite_binary);
  info.started_at = UnixNow();

  // A complete folder under a private name, then renamed to the guest's name.
  const fs::path staging = root / (".new-" + std::to_string(getpid()));
  const fs::path dir = root / o.name;
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    fs::create_directories(root, ec);
    chmod(root.c_str(), 0700);
    fs::remove_all(staging, ec);
    if (mkdir(staging.c_str(), 0700) == 0) break;
    if (errno != ENOENT || attempt > 5)
      throw VmError("cannot create " + staging.string() + ": " + Errno(errno));
  }
  Fd lock;
  try {
    std::string initrd = ReadFile(plan.initramfs.file);
    initrd.resize((initrd.size() + 3) & ~size_t{3}, '\0');
    initrd += ServeArchive();
    WriteFileReplacing(staging / "initrd", initrd, 0600);
    lock.reset(open((staging / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || flock(lock.get(), LOCK_EX) != 0)
      throw VmError("cannot lock " + (staging / "lock").string() + ": " + Errno(errno));
    WriteMeta(staging, info);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  if (rename(staging.c_str(), dir.c_str()) != 0) {
    const int e = errno;
    std::error_code ec;
    fs::remove_all(staging, ec);
    if (e == EEXIST || e == ENOTEMPTY)
      throw VmError("a guest named " + o.name + " is already running (it was started just now)");
    throw VmError("cannot create " + dir.string() + ": " + Errno(e));
  }

  SupervisorConfig config;
  config.dir = dir;
  config.qemu = plan.qemu;
  config.qemu.name = "netns-conform-vm-" + o.name;
  config.qemu.initrd = dir / "initrd";
  config.qemu.console_log = dir / "console.log";
  config.qemu.channel_socket = dir / "guest.sock";
  config.info = info;
  config.boot_timeout = o.vm.boot_timeout;
  config.boot_retries = o.vm.boot_retries;
  config.lock_fd = lock.get();

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    RemoveDir(dir);
    throw VmError("pipe: " + Errno(errno));
  }
  config.ready_fd = ready[1];
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t first = fork();
  if (first < 0) {
    close(ready[0]);
    close(ready[1]);
    RemoveDir(dir);
    throw VmError("fork: " + Errno(errno));
  }
  if (first == 0) {
    // Detached from the caller's session and terminal; the janitor is not its child.
    close(ready[0]);
    setsid();
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const pid_t janitor = fork();
    if (janitor == 0) JanitorMain(std::move(config));
    _exit(janitor < 0 ? 1 : 0);
  }
  close(ready[1]);
  lock.reset();  // the supervisor holds it now
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }

  // LOG lines while it boots, then READY or FAIL (+ TAIL lines); EOF without either: the
  // supervisor died.
  Fd from(ready[0]);
  std::string buffer, fail;
  bool is_ready = false;
  std::string tail;
  char chunk[4096];
  while (true) {
    const ssize_t got = read(from.get(), chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    buffer.append(chunk, static_cast<size_t>(got));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      const std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (line.rfind("LOG ", 0) == 0) say(line.substr(4));
      if (line.rfind("READY", 0) == 0) is_ready = true;
      if (line.rfind("FAIL ", 0) == 0) fail = line.substr(5);
      if (line.rfind("TAIL ", 0) == 0) tail += line.substr(5) + "\n";
    }
    if (is_ready) break;
  }
  if (is_ready) {
    if (auto now = FindGuest(o.name)) {
      say("ready in " + Fixed(Seconds(Clock::now() - start)) + " s since `vm start`");
      return *now;
    }
    fail = "the guest went away right after it was ready";
  }
  if (console_tail) *console_tail = tail;
  // Whatever ended the start, the folder goes with the supervisor (or its janitor): wait for it
  // so that nothing is left when this returns.
  const auto deadline = Clock::now() + milliseconds(15000);
  while (Clock::now() < deadline && !CleanIfStale(dir))
    std::this_thread::sleep_for(milliseconds(20));
  RemoveEmptyRoot();
  throw VmError("guest " + o.name + " did not start: " +
                (fail.empty() ? "its supervisor ended before the guest was ready" : fail));
}

GuestInfo StopGuest(const std::string& name, milliseconds timeout) {
  auto info = FindGuest(name);
  if (!info) throw VmError("no guest named " + name + " is running (see `netns-conform vm list`)");
  const fs::path dir = info->state_dir;
  auto all_gone = [&] {
    return !ProcessAlive(info->supervisor_pid, info->supervisor_start) &&
           !ProcessAlive(info->janitor_pid, info->janitor_start) &&
           !ProcessAlive(info->qemu_pid, info->qemu_start) && CleanIfStale(dir);
  };
  auto wait_gone = [&](milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (all_gone()) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return all_gone();
  };
  if (ProcessAlive(info->supervisor_pid, info->supervisor_start))
    kill(info->supervisor_pid, SIGTERM);
  if (!wait_gone(timeout)) {
    if (ProcessAlive(info->supervisor_pid, info->supervisor_start))
      kill(info->supervisor_pid, SIGKILL);
    if (!wait_gone(milliseconds(10000)))
      throw VmError("guest " + name + " did not go away: supervisor pid " +
                    std::to_string(info->supervisor_pid) + ", qemu pid " +
                    std::to_string(info->qemu_pid) + ", folder " + dir.string());
  }
  RemoveEmptyRoot();
  return *info;
}

AttachResult AttachRun(const AttachOptions& o) {
  auto say = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  auto found = FindGuest(o.name);
  if (!found)
    throw VmError("no guest named " + o.name + " is running (see `netns-conform vm list`)");
  AttachResult a;
  a.guest = *found;
  const GuestInfo& g = a.guest;
  if (g.state == "booting") throw VmError("guest " + o.name + " is still booting");
  for (const auto& arg : o.runner_args)
    if (arg.find('\n') != std::string::npos || arg.size() > kMaxArgBytes)
      throw VmError("a runner argument for the guest holds a newline or is too long: '" + arg +
                    "'");
  if (o.runner_args.size() > static_cast<size_t>(kMaxArgs))
    throw VmError("too many runner arguments");

  VmRunResult& r = a.result;
  r.kernel_name = g.kernel_name;
  r.kernel_release = g.kernel_release;
  r.kernel_package = g.kernel_package;
  r.kernel_version = g.kernel_version;
  r.kernel_config = g.kernel_config;
  r.kernel_config_source = g.kernel_config_source;
  r.machine = g.machine;
  r.accelerator = g.accelerator;
  r.machine_note = g.machine_note;
  r.boot_s = g.boot_s;
  r.retries = g.retries;

  // The out folder as a one-shot run leaves it: nothing of an earlier run.
  const fs::path vm_dir = o.out_dir / "vm";
  std::error_code ec;
  fs::create_directories(vm_dir);
  for (const char* stale : {"results.json", "junit.xml", "journal.jsonl"})
    fs::remove(o.out_dir / stale, ec);
  fs::remove_all(o.out_dir / "logs", ec);
  for (const char* stale : {"console.log", "console.boot.log", "console.attempt1.log", "dmesg.txt",
                            "runner.log", "qemu.log", "journal.partial.jsonl"})
    fs::remove(vm_dir / stale, ec);

  // The console from here on is this run's; held open, it stays readable if the guest dies and
  // its folder is removed.
  Fd console(open((g.state_dir / "console.log").c_str(), O_RDONLY | O_CLOEXEC));
  const off_t console_from = console ? lseek(console.get(), 0, SEEK_END) : 0;
  const std::string boot_console = ReadIfThere(g.state_dir / "console.boot.log");
  if (!boot_console.empty()) WriteFileReplacing(vm_dir / "console.boot.log", boot_console);

  Fd sock = ConnectUnix(g.state_dir / "control.sock");
  if (!sock)
    throw VmError("cannot reach guest " + o.name + "'s supervisor: " + Errno(errno) +
                  " (see `netns-conform vm list`)");
  std::string request = "NCVM 1 RUN argc=" + std::to_string(o.runner_args.size()) + "\n";
  for (const auto& arg : o.runner_args) request += arg + "\n";
  if (!SendAll(sock.get(), request))
    throw VmError("cannot send the run to guest " + o.name + ": " + Errno(errno));

  const auto start = Clock::now();
  std::string bytes;  // after the ACCEPTED line
  std::string head;   // until the ACCEPTED line is complete
  bool accepted = false, aborted = false, timed_out = false, stopped = false;
  ChannelScanner scanner;
  std::optional<Clock::time_point> abort_deadline;
  std::string buf(size_t{1} << 16, '\0');
  while (true) {
    const auto now = Clock::now();
    if (accepted && now - start > o.run_timeout) {
      timed_out = true;
      break;
    }
    if (!accepted && now - start > milliseconds(30000))
      throw VmError("guest " + o.name + "'s supervisor did not answer within 30 s");
    if (!aborted && o.should_stop && o.should_stop()) {
      aborted = true;
      abort_deadline = now + milliseconds(60000);
      say("interrupted: asking the guest to stop run " + std::to_string(a.run));
      SendAll(sock.get(), "NCVM 1 ABORT\n");
    }
    if (abort_deadline && now > *abort_deadline) {
      stopped = true;
      break;
    }
    pollfd pfd{sock.get(), POLLIN, 0};
    const int n = poll(&pfd, 1, 100);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    const ssize_t got = read(sock.get(), buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    std::string_view data(buf.data(), static_cast<size_t>(got));
    if (!accepted) {
      head.append(data);
      const size_t nl = head.find('\n');
      if (nl == std::string::npos) continue;
      const std::string line = head.substr(0, nl);
      if (MarkerKind(line) == "REFUSED")
        throw VmError("guest " + o.name + " refused the run: " +
                      line.substr(kMarker.size() + std::string("REFUSED ").size()));
      if (MarkerKind(line) != "ACCEPTED")
        throw VmError("guest " + o.name + "'s supervisor said something unexpected: " + line);
      a.run = std::atoi(MarkerFields(line)["run"].c_str());
      accepted = true;
      say("run " + std::to_string(a.run) + " on guest " + o.name + " (" + g.kernel_label + ", up " +
          Fixed(g.uptime_s(), 0) + " s)");
      data = std::string_view(head).substr(nl + 1);
      bytes.append(data);
      scanner.Feed(data);
      head.clear();
    } else {
      bytes.append(data);
      scanner.Feed(data);
    }
    if (scanner.ended()) break;
  }
  sock.reset();
  a.run_s = Seconds(Clock::now() - start);
  if (!accepted && !timed_out)
    throw VmError("guest " + o.name + " went away before it accepted the run");

  if (timed_out) {
    say("the whole-run watchdog fired: stopping guest " + o.name);
    try {
      StopGuest(o.name);
    } catch (const VmError& e) {
      say(e.what());
    }
  }

  std::string run_console;
  if (console) {
    const off_t end = lseek(console.get(), 0, SEEK_END);
    if (end > console_from) {
      run_console.resize(static_cast<size_t>(end - console_from));
      const ssize_t got =
          pread(console.get(), run_console.data(), run_console.size(), console_from);
      run_console.resize(got > 0 ? static_cast<size_t>(got) : 0);
    }
  }
  r.console_log = vm_dir / "console.log";
  WriteFileReplacing(r.console_log, run_console);

  const ChannelContents ch = ParseChannel(bytes);
  const std::string extract_error = CollectChannel(ch, boot_console + run_console, o.out_dir, r);
  const bool guest_alive = FindGuest(o.name).has_value();

  if (!r.results_dir.empty() && ch.ended && fs::exists(o.out_dir / "results.json", ec)) {
    r.outcome = VmOutcome::kCompleted;
  } else if (!r.results_dir.empty() && ch.ended && aborted) {
    r.outcome = VmOutcome::kStopped;
    r.results_dir.clear();
    r.failure = "interrupted: the runner in the guest was stopped (exit status " +
                std::to_string(r.runner_status) + ") before it wrote results.json";
  } else if (!r.results_dir.empty() && ch.ended) {
    r.outcome = VmOutcome::kRunnerFailed;
    std::string said = TailLines(ch.runner_log.value_or(""), 1);
    while (!said.empty() && said.back() == '\n') said.pop_back();
    r.results_dir.clear();
    r.failure = "the runner in the guest exited with status " + std::to_string(r.runner_status) +
                " without writing results.json" + (said.empty() ? "" : ": " + said);
  } else if (timed_out) {
    r.outcome = VmOutcome::kTimedOut;
    r.failure = "the whole-run watchdog fired after " +
                Fixed(static_cast<double>(o.run_timeout.count()) / 1000, 0) +
                " s; the guest was stopped";
  } else if (stopped) {
    r.outcome = VmOutcome::kStopped;
    r.failure = "stopped on request; the guest finishes the run on its own";
  } else {
    r.outcome = VmOutcome::kGuestDied;
    r.failure = !extract_error.empty()
                    ? "the results could not be read: " + extract_error
                    : "the guest " + std::string(guest_alive ? "" : "went away and ") +
                          "ended run " + std::to_string(a.run) + " after " + Fixed(a.run_s) +
                          " s without sending its results" +
                          (ch.error.empty() ? "" : " (" + ch.error + ")");
  }
  if (r.outcome != VmOutcome::kCompleted) {
    if (!r.kernel_problems.empty()) r.failure += "; the kernel said: " + r.kernel_problems.front();
    r.console_tail = TailLines(run_console, 40);
    if (!ch.journal.empty()) {
      std::string lines;
      for (const auto& line : ch.journal) lines += line + "\n";
      WriteFileReplacing(vm_dir / "journal.partial.jsonl", lines);
    }
  }
  r.total_s = a.run_s;
  return a;
}

}  // namespace conform::vm
