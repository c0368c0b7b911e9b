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
#include "toolconf/side_common.h"

namespace conform::toolconf {
using namespace side_parts;

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

}  // namespace conform::toolconf
