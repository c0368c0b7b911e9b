// `vm start` and `vm stop` of the reuse sandbox: StartGuest (the state folder claimed, the
// janitor and supervisor forked off, the boot followed to READY or FAIL) and StopGuest. See
// vm/reuse.h.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "vm/cpio.h"
#include "vm/error.h"
#include "vm/guest_state.h"
#include "vm/janitor.h"
#include "vm/processes.h"
#include "vm/reuse.h"
#include "vm/timing.h"
#include "vm/tools.h"
#include "vm/unix_io.h"

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace conform::vm {
namespace {

std::string FileStamp(const fs::path& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string ServeArchive() {
  CpioWriter cpio;
  cpio.File("/etc/netns-conform/serve", "1\n");
  return cpio.Finish();
}

}  // namespace

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

}  // namespace conform::vm
