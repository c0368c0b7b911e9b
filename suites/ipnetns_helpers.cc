#include "suites/ipnetns_helpers.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "fixtures/child.h"
#include "fixtures/error.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/netns_ref_cli.h"
#include "fixtures/ref/run_dir.h"

namespace conform::ipnetns {

using std::chrono::milliseconds;

bool InSandbox() { return std::getenv(kInSandboxEnv) != nullptr; }

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return out.good();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool IsNsfs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 &&
         st.f_type == static_cast<decltype(st.f_type)>(NSFS_MAGIC);
}

FileDescriptor OpenPath(const std::string& path) {
  return FileDescriptor(open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

std::string IdentityOf(const std::string& path) {
  FileDescriptor fd = OpenPath(path);
  if (!fd) return "";
  return IdentifyNetns(fd.get()).ToString();
}

std::string ProcNet(pid_t pid) { return "/proc/" + std::to_string(pid) + "/ns/net"; }

Scratch::Scratch(bool conventional_run_dir) {
  static int serial = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (!conventional_run_dir) {
    options.run_dir = std::string("/run/netns/") + info->test_suite_name() + "." + info->name() +
                      "-" + std::to_string(getpid()) + "-" + std::to_string(++serial);
  }
  options.etc_dir = "/etc/netns";
  // Warnings (exec's binds) are checked by the cases that expect them, not printed.
  options.warn = [this](const std::string& message) { warnings.push_back(message); };
}

Scratch::~Scratch() {
  // The conventional folder also holds the other cases' folders (when run by hand, in one
  // sandbox): the case that uses it deletes its own name.
  if (options.run_dir == "/run/netns") return;
  try {
    ref::DeleteAll(options);
  } catch (const std::exception&) {
    // The case's own assertions say what went wrong.
  }
  umount2(options.run_dir.c_str(), MNT_DETACH);
  rmdir(options.run_dir.c_str());
  for (const auto& dir : etc_folders_) {
    try {
      for (const auto& entry : ref::ReadNames(dir)) unlink((dir + "/" + entry).c_str());
    } catch (const std::exception&) {
    }
    rmdir(dir.c_str());
  }
}

std::string Scratch::MakeEtcFolder(const std::string& name) {
  if (mkdir("/etc/netns", 0755) != 0 && errno != EEXIST) {
    options.etc_dir = options.run_dir;
    options.etc_dir.replace(0, std::string("/run/netns").size(), "/tmp/ipn-etc");
    mkdir("/tmp/ipn-etc", 0755);
    mkdir(options.etc_dir.c_str(), 0755);
    ::testing::Test::RecordProperty("etc_dir", options.etc_dir);
  }
  const std::string dir = options.etc_dir + "/" + name;
  if (mkdir(dir.c_str(), 0755) != 0) return "";
  etc_folders_.push_back(dir);
  return dir;
}

Witness::Witness(int inside_fd) : observer(CreateNetns()) {
  RouteClient(observer.get()).CreateVeth("vb", "va", inside_fd);
  auto vb = RouteClient(observer.get()).GetLink("vb");
  if (!vb) throw std::runtime_error("veth peer vb missing in the observer netns");
  vb_ifindex = vb->ifindex;
}

bool Witness::PeerExists() { return RouteClient(observer.get()).GetLink("vb").has_value(); }

bool HasVa(const std::string& path) {
  FileDescriptor fd = OpenPath(path);
  if (!fd) return false;
  return RouteClient(fd.get()).GetLink("va").has_value();
}

SwitchedProcess::SwitchedProcess(const ref::Options& options, const std::string& name)
    : holder_([&] {
        ref::SwitchInto(options, name);  // what it throws is the error
        return HolderSetup{};
      }) {}

std::string SwitchedProcess::error() const {
  const HolderSetup& setup = holder_.setup();
  if (setup.ok()) return "";
  return setup.message.empty() ? "the switched process: " + ErrnoName(setup.err) : setup.message;
}

FileDescriptor CopyMountNamespace(bool private_copy) {
  HolderProcess helper([private_copy] {
    const bool made =
        unshare(CLONE_NEWNS) == 0 &&
        (!private_copy || mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
    return HolderSetup{.err = made ? 0 : errno, .message = ""};
  });
  helper.CheckSetup("unshare(CLONE_NEWNS) in a helper");
  FileDescriptor mnt_ns = OpenPath("/proc/" + std::to_string(helper.pid()) + "/ns/mnt");
  const int open_err = errno;
  helper.Release();
  if (!mnt_ns) throw SystemError("open the helper's /proc/PID/ns/mnt", open_err);
  return mnt_ns;
}

std::vector<MountEntry> MountsAtIn(int mnt_ns, const std::string& path, std::string* error) {
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    if (ch.Record("setns_mnt", setns(mnt_ns, CLONE_NEWNS)) != 0) return;
    std::string mounts;
    for (const auto& entry : MountsAt(path))
      mounts += entry.fstype + "|" + entry.optional_fields + ";";
    ch.Note("mounts", mounts);
  });
  std::vector<MountEntry> found;
  if (!child.Ok() || child.Call("setns_mnt").rc != 0) {
    *error = child.Describe();
    return found;
  }
  std::istringstream in(child.notes["mounts"]);
  for (std::string mount; std::getline(in, mount, ';');) {
    const auto bar = mount.find('|');
    found.push_back({.mount_point = path,
                     .optional_fields = mount.substr(bar + 1),
                     .fstype = mount.substr(0, bar)});
  }
  return found;
}

CliResult RunRefCommand(const Scratch& scratch, std::vector<std::string> args) {
  args.insert(args.begin(), {"netns-ref", "--run-dir", scratch.options.run_dir, "--etc-dir",
                             scratch.options.etc_dir});
  int out[2], err[2];
  CheckSyscall(pipe2(out, O_CLOEXEC), "pipe2");
  CheckSyscall(pipe2(err, O_CLOEXEC), "pipe2");
  std::fflush(nullptr);  // nothing buffered here may come out of the child's stdout
  const pid_t pid = static_cast<pid_t>(CheckSyscall(fork(), "fork"));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    CloseOtherFds({});
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int rc = ref::NetnsRefMain(static_cast<int>(args.size()), argv.data());
    std::fflush(nullptr);
    _exit(rc);
  }
  close(out[1]);
  close(err[1]);
  CliResult result;
  result.pid = pid;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_pipes = 2;
  while (open_pipes > 0) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    const int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[4096];
      const ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace conform::ipnetns
