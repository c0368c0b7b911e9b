#include "toolconf/side.h"

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

namespace conform::toolconf {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kRunDir = "/run/netns";

std::string Trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!Trimmed(line).empty()) lines.push_back(Trimmed(line));
  return lines;
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

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

Side::Side(const Profile& tool, std::string self_path) : tool_(tool), self_(std::move(self_path)) {}

Side::~Side() {
  for (auto& [label, holder] : holders_) {
    holder.release.reset();
    waitpid(holder.pid, nullptr, 0);
  }
  if (mount_observer_ > 0) {
    mount_observer_release_.reset();
    waitpid(mount_observer_, nullptr, 0);
  }
}

std::string Side::Enter(StartState start) {
  if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) return Errno("unshare(CLONE_NEWNS|CLONE_NEWNET)");
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return Errno("make / private");
  // Detach the sandbox's (and any host's) mounts at and under the run folder first: hidden
  // under a new /run they would still be listed in mountinfo and counted as this side's.
  for (int round = 0; round < 8; ++round) {
    bool any = false;
    const auto mounts = ReadMounts();
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
      if (it->mount_point == kRunDir || it->mount_point.rfind(kRunDir + "/", 0) == 0)
        any = umount2(it->mount_point.c_str(), MNT_DETACH) == 0 || any;
    }
    if (!any) break;
  }
  // An empty /run: the run folder starts missing, as on a freshly booted machine.
  if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return Errno("mount tmpfs /run");
  if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return Errno("mount sysfs /sys");
  // /etc/netns of this side only (the sandbox's is a tmpfs or lives in its /etc overlay).
  struct stat st {};
  if (stat("/etc/netns", &st) != 0 && mkdir("/etc/netns", 0755) != 0)
    return Errno("mkdir /etc/netns (sandbox overlay)");
  if (mount("tmpfs", "/etc/netns", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return Errno("mount tmpfs /etc/netns");
  if (start != StartState::kMissing && mkdir(kRunDir.c_str(), 0755) != 0)
    return Errno("mkdir " + kRunDir);
  if (start == StartState::kShared) {
    if (mount("tmpfs", kRunDir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0 ||
        mount("", kRunDir.c_str(), nullptr, MS_SHARED, nullptr) != 0)
      return Errno("mount a shared tmpfs on " + kRunDir);
  }
  // Tools run in an empty folder of the sandbox's private /tmp: a relative path a tool makes
  // (pyroute2 takes a name with a '/' for a path) must never land in the caller's folder, which
  // is on the host's filesystem.
  const std::string cwd = "/tmp/netns-conform-side." + std::to_string(getpid());
  if (mkdir(cwd.c_str(), 0755) != 0 || chdir(cwd.c_str()) != 0) return Errno("mkdir+chdir " + cwd);
  caller_.reset(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!caller_) return Errno("open /proc/self/ns/net");
  labels_ = std::make_unique<Labeler>(caller_.get());
  const char* names[] = {"missing", "a plain directory", "a shared mount"};
  Note("start: run folder is " + std::string(names[static_cast<int>(start)]),
       ObserveRunDir(*labels_, kRunDir));
  return "";
}

Bindings Side::Complete(Bindings b) const {
  b.run_dir = kRunDir;
  b.tool = tool_.tool;
  b.self = self_;
  b.profile_dir = tool_.profile_dir;
  return b;
}

Outcome Side::RunSteps(const std::string& op, const Bindings& b, std::string* shown) {
  Outcome total;
  total.status = 0;
  for (const auto& step : tool_.ops.at(op)) {
    const Argv argv = Expand(step, Complete(b));
    if (shown) *shown += (shown->empty() ? "" : "; ") + ShowArgv(argv);
    Outcome o = Run(argv);
    total.out += o.out;
    total.err += o.err;
    total.status = o.status;
    total.signal = o.signal;
    total.timed_out = o.timed_out;
    if (o.status != 0) break;
  }
  return total;
}

std::string Side::NormaliseExit(const Outcome& o, bool exact) const {
  if (o.timed_out) return "timed out";
  if (o.signal) return o.DescribeExit();
  if (o.status == 0) return "0";
  if (exact) return "exit " + std::to_string(o.status);
  const auto& codes = tool_.error_exit_codes;
  if (std::find(codes.begin(), codes.end(), o.status) != codes.end()) return "error";
  return "unexpected exit " + std::to_string(o.status);
}

nlohmann::json Side::NormaliseOutput(const std::string& out, Output kind) {
  auto lines = Lines(out);
  switch (kind) {
    case Output::kIgnore:
      return nullptr;
    case Output::kNames: {
      static const std::regex id_suffix(R"( \(id: -?[0-9]+\)$)");
      for (auto& l : lines) l = std::regex_replace(l, id_suffix, "");
      std::sort(lines.begin(), lines.end());
      return lines;
    }
    case Output::kPids: {
      for (auto& l : lines) {
        const pid_t pid = static_cast<pid_t>(std::atoi(l.c_str()));
        std::string label = pid == getpid() ? "caller" : "other process";
        for (const auto& [name, holder] : holders_)
          if (holder.pid == pid) label = name;
        l = label;
      }
      std::sort(lines.begin(), lines.end());
      return lines;
    }
    case Output::kListId: {
      static const std::regex nsid_re(R"(nsid (-?[0-9]+))");
      static const std::regex name_re(R"(iproute2 netns name: ([^)]*)\))");
      std::vector<std::string> out_lines;
      for (const auto& l : lines) {
        std::smatch m, n;
        if (!std::regex_search(l, m, nsid_re)) {
          out_lines.push_back("unparsed: " + l);
          continue;
        }
        std::string entry = "nsid " + m[1].str();
        if (std::regex_search(l, n, name_re)) entry += " " + n[1].str();
        out_lines.push_back(entry);
      }
      std::sort(out_lines.begin(), out_lines.end());
      return out_lines;
    }
    case Output::kLines:
    case Output::kSorted: {
      static const std::regex ino_re(R"(net:\[([0-9]+)\])");
      for (auto& l : lines) {
        std::smatch m;
        if (std::regex_search(l, m, ino_re)) {
          auto label = labels_->LabelOfInode(static_cast<ino_t>(std::stoull(m[1].str())));
          l = std::regex_replace(l, ino_re, "netns " + label.value_or("unknown"));
        }
      }
      if (kind == Output::kSorted) std::sort(lines.begin(), lines.end());
      return lines;
    }
  }
  return nullptr;
}

nlohmann::json& Side::Op(const std::string& label, const std::string& op, const Bindings& b,
                         Output output, bool exact) {
  nlohmann::json step = {{"step", label}};
  if (!tool_.Supports(op)) {
    step["exit"] = "unsupported";
    trace_.push_back(step);
    return trace_.back();
  }
  std::string shown;
  const Outcome o = RunSteps(op, b, &shown);
  step["exit"] = NormaliseExit(o, exact);
  step["stderr_reported"] = !Trimmed(o.err).empty();
  if (output != Output::kIgnore) step["output"] = NormaliseOutput(o.out, output);
  step["state"] = ObserveRunDir(*labels_, kRunDir);
  step["detail"] = {{"argv", shown},
                    {"result", o.DescribeExit()},
                    {"stdout", o.out.substr(0, 2000)},
                    {"stderr", o.err.substr(0, 2000)}};
  trace_.push_back(step);
  return trace_.back();
}

nlohmann::json& Side::Concurrently(const std::string& label,
                                   const std::vector<std::pair<std::string, Bindings>>& each) {
  nlohmann::json step = {{"step", label}};
  std::vector<pid_t> pids;
  for (const auto& [op, b] : each) {
    if (!tool_.Supports(op)) continue;
    const pid_t pid = fork();
    if (pid == 0) {
      const Outcome o = RunSteps(op, b);
      _exit(o.timed_out ? 254 : o.signal ? 128 + o.signal : o.status);
    }
    pids.push_back(pid);
  }
  std::map<std::string, int> exits;
  for (pid_t pid : pids) {
    int status = 0;
    Outcome o;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
      o.status = 255;
    } else {
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
      o.timed_out = code == 254;
      o.signal = code > 128 && code < 254 ? code - 128 : 0;
      o.status = code;
    }
    exits[NormaliseExit(o, false)]++;
  }
  step["exits"] = exits;
  step["state"] = ObserveRunDir(*labels_, kRunDir);
  trace_.push_back(step);
  return trace_.back();
}

nlohmann::json& Side::Note(const std::string& label, nlohmann::json value) {
  trace_.push_back({{"step", label}, {"observed", std::move(value)}});
  return trace_.back();
}

nlohmann::json& Side::Observe(const std::string& label) {
  return Note(label, ObserveRunDir(*labels_, kRunDir));
}

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
