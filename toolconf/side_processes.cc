// The processes a scenario keeps beside the tool under test (toolconf/side.h): holders of a named
// netns, markers whose freeing is watched, the mount observer, /etc/netns files, and a
// background operation (monitor) read line by line.
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "fixtures/error.h"
#include "toolconf/side.h"
#include "toolconf/side_common.h"

namespace conform::toolconf {
namespace {

using namespace side_parts;
using Clock = std::chrono::steady_clock;

// A forked helper that does `setup` and then blocks until its release pipe closes. Returns its
// pid and the release fd; pid -1 when setup failed (and reaped).
std::pair<pid_t, int> StartParked(int (*setup)(const std::string&), const std::string& arg) {
  int ready[2], release[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(release, O_CLOEXEC) != 0) return {-1, -1};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    // Keep only our two pipe ends (as fds 3 and 4): a holder that kept another holder's
    // release end open would keep that one alive after its release.
    const int r = fcntl(ready[1], F_DUPFD, 1000), l = fcntl(release[0], F_DUPFD, 1000);
    if (r < 0 || l < 0 || dup2(r, 3) < 0 || dup2(l, 4) < 0) _exit(1);
    close_range(5, ~0U, 0);
    const char ok = setup(arg) == 0 ? 'R' : 'E';
    (void)!write(3, &ok, 1);
    char c;
    while (read(4, &c, 1) > 0) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  char ok = 'E';
  if (pid < 0 || read(ready[0], &ok, 1) != 1) ok = 'E';
  close(ready[0]);
  if (ok != 'R') {
    close(release[1]);
    if (pid > 0) waitpid(pid, nullptr, 0);
    return {-1, -1};
  }
  return {pid, release[1]};
}

int EnterNamed(const std::string& name) {
  const int fd = open((kRunDir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const int rc = setns(fd, CLONE_NEWNET);
  // Only the process is inside: an open file on the mount would make a plain umount busy.
  close(fd);
  return rc;
}

int NewMountNamespace(const std::string&) { return unshare(CLONE_NEWNS); }

// A process blocked waiting for events: sleeping in one of the waiting syscalls.
bool BlockedWaiting(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= text.size() ||
      text[close_paren + 2] != 'S')
    return false;
  std::ifstream sys("/proc/" + std::to_string(pid) + "/syscall");
  long nr = -1;
  if (!(sys >> nr)) return false;
  // read, poll, select, epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2 (x86_64).
  static const std::vector<long> waiting = {0, 7, 23, 232, 270, 271, 281, 441};
  return std::find(waiting.begin(), waiting.end(), nr) != waiting.end();
}

}  // namespace

std::string Side::StartHolder(const std::string& name) {
  const std::string label = "holder" + std::to_string(next_holder_++);
  auto [pid, release] = StartParked(EnterNamed, name);
  if (pid < 0) {
    Note("start " + label + " in " + name, "could not enter " + name);
    return label;
  }
  holders_[label] = Holder{pid, FileDescriptor(release)};
  Note("start " + label + " in " + name, {{"netns", ProcessNetns(*labels_, pid)}});
  return label;
}

void Side::StopHolder(const std::string& label) {
  auto it = holders_.find(label);
  if (it == holders_.end()) return;
  it->second.release.reset();
  waitpid(it->second.pid, nullptr, 0);
  holders_.erase(it);
  Note("stop " + label, "exited");
}

nlohmann::json& Side::ObserveHolder(const std::string& label) {
  const pid_t pid = HolderPid(label);
  nlohmann::json seen = {{"netns", "gone"}};
  FileDescriptor fd(
      open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (pid > 0 && fd) seen = {{"netns", labels_->Label(fd.get())}, {"links", LinkNames(fd.get())}};
  return Note(label + "'s netns", seen);
}

pid_t Side::HolderPid(const std::string& label) const {
  auto it = holders_.find(label);
  return it == holders_.end() ? -1 : it->second.pid;
}

void Side::AddMarker(const std::string& name, const std::string& link) {
  FileDescriptor fd(open((kRunDir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  std::string result = "added";
  if (!fd) {
    result = Errno("open " + name);
  } else {
    try {
      RouteClient(fd.get()).CreateVeth(link, link + "p");
    } catch (const std::exception& e) {
      result = e.what();
    }
  }
  Note("add veth " + link + "/" + link + "p inside " + name, result);
}

bool Side::WatchFree(const std::string& name) {
  FileDescriptor fd(open((kRunDir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    Note("watch " + name + " for its end", Errno("open"));
    return false;
  }
  try {
    FreeWatch watch;
    RouteClient caller(caller_.get());
    // Subscribed before anything can free it: nothing is replayed.
    watch.watcher = std::make_unique<EventWatcher>(caller_.get(),
                                                   std::initializer_list<unsigned>{RTNLGRP_NSID});
    caller.SetNsid(fd.get(), -1);
    watch.nsid = caller.GetNsid(fd.get());
    free_watches_[name] = std::move(watch);
    Note("watch " + name + " for its end (an nsid in the caller)", "watching");
    return true;
  } catch (const std::exception& e) {
    Note("watch " + name + " for its end", e.what());
    return false;
  }
}

void Side::WaitFreed(const std::string& name) {
  auto it = free_watches_.find(name);
  if (it == free_watches_.end()) {
    Note("netns of " + name + " freed?", "not watched");
    return;
  }
  const int nsid = it->second.nsid;
  const bool freed =
      it->second.watcher
          ->WaitNsid([&](const NsidEvent& e) { return e.type == RTM_DELNSID && e.nsid == nsid; },
                     std::chrono::seconds(5))
          .has_value();
  Note("netns of " + name + " freed?", freed ? "freed (RTM_DELNSID)" : "still alive after 5 s");
}

void Side::StartMountObserver() {
  auto [pid, release] = StartParked(NewMountNamespace, "");
  if (pid < 0) {
    Note("start a process in a new mount namespace", "failed");
    return;
  }
  mount_observer_ = pid;
  mount_observer_release_.reset(release);
  mount_observer_ns_.reset(
      open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  Note("start a process in a new mount namespace", "started");
}

std::string Side::SeenByMountObserver(const std::string& name) {
  const std::string seen =
      mount_observer_ns_ ? SeenFromMountNamespace(mount_observer_ns_.get(), kRunDir + "/" + name)
                         : "<no observer>";
  Note("the other mount namespace sees " + name + " as", seen);
  return seen;
}

void Side::WriteEtcNetns(const std::string& name, const std::string& file,
                         const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories("/etc/netns/" + name, ec);
  std::ofstream out("/etc/netns/" + name + "/" + file);
  out << text;
  Note("write /etc/netns/" + name + "/" + file, out ? "written" : "failed");
}

void Side::MakeJunkFile(const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(kRunDir, ec);
  std::ofstream out(kRunDir + "/" + name);
  Note("create a plain file " + name + " in the run folder (not a netns)",
       out ? "created" : "failed");
}

void Side::StartBackground(const std::string& op, const Bindings& b) {
  if (!tool_.Supports(op)) return;
  const Argv argv = Expand(tool_.ops.at(op).front(), Complete(b));
  background_argv_ = ShowArgv(argv);
  background_ = Background::Start(argv);
  Note("start " + op + " in the background", "started");
}

bool Side::WaitBackgroundReady() {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  bool ready = false;
  while (background_.pid() > 0 && Clock::now() < deadline) {
    if ((ready = BlockedWaiting(background_.pid()))) break;
    background_.Pump(std::chrono::milliseconds(5));  // the poll is the wait
  }
  Note("background tool waits for events", ready ? "ready" : "not ready after 5 s");
  return ready;
}

bool Side::WaitBackgroundLine(const std::string& line) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  auto has = [&] {
    const auto lines = Lines(background_.out());
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  while (!has() && background_.pid() > 0 && Clock::now() < deadline)
    background_.Pump(std::chrono::milliseconds(20));
  const bool seen = has();
  Note("background tool printed \"" + line + "\"", seen ? "yes" : "not within 5 s");
  return seen;
}

nlohmann::json& Side::StopBackground(const std::string& label) {
  const Outcome o = background_.Stop();
  auto& note = Note(label, Lines(o.out));
  note["detail"] = {
      {"argv", background_argv_}, {"result", "stopped"}, {"stderr", o.err.substr(0, 2000)}};
  return note;
}

}  // namespace conform::toolconf
