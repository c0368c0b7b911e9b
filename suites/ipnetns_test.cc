// ip-netns(8) and SEMANTICS.md §8: the conventions of named network namespaces (an nsfs bind
// mount per name in a shared run folder, exec with a private mount namespace, a fresh sysfs and
// /etc/netns/NAME binds, identify, pids, set/list-id over RTM_NEWNSID/RTM_GETNSID, monitor),
// exercised through the reference implementation (fixtures/ref, conform::ref) and raw syscalls,
// so that each case shows the kernel supports the convention it names.
//
// Safety: every case works under /run/netns and /etc/netns only inside the netns-conform sandbox
// (the runner's, or the one suite_main enters when run by hand): private tmpfs /run/netns, private
// /etc/netns, own netns and mount namespace. Each case takes a fresh run folder under /run/netns
// (the conventional folder itself for the case about the convention). Teardown is observed by
// netlink events with deadlines, never by sleeping.
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/net_namespace.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/holder.h"
#include "fixtures/mountinfo.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/netns_ref_cli.h"
#include "fixtures/ref/ref_monitor.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/refund_device.h"
#include "fixtures/sandbox_mounts.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr auto kDeadline = seconds(10);

// ---- helpers ----------------------------------------------------------------------------------

bool InSandbox() { return std::getenv(kInSandboxEnv) != nullptr; }

// Refuses to run outside the sandbox: /run/netns and /etc/netns would be the host's.
#define REQUIRE_SANDBOX()                                                       \
  do {                                                                          \
    if (!InSandbox())                                                           \
      GTEST_SKIP() << "not inside the netns-conform sandbox (" << kInSandboxEnv \
                   << " unset): refusing to touch /run/netns and /etc/netns";   \
  } while (0)

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
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

using MountEntry = MountInfoEntry;

bool IsNsfs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 &&
         st.f_type == static_cast<decltype(st.f_type)>(NSFS_MAGIC);
}

FileDescriptor OpenPath(const std::string& path) {
  return FileDescriptor(open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

// Identity of the netns a path (a name, /proc/PID/ns/net) refers to, "" when it cannot be opened.
std::string IdentityOf(const std::string& path) {
  FileDescriptor fd = OpenPath(path);
  if (!fd) return "";
  return IdentifyNetns(fd.get()).ToString();
}

std::string ProcNet(pid_t pid) { return "/proc/" + std::to_string(pid) + "/ns/net"; }

// The RefError a call throws, nullopt when it throws none.
template <typename Fn>
std::optional<ref::RefError> RefErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const ref::RefError& e) {
    return e;
  }
  return std::nullopt;
}

std::vector<std::string> Names(const std::vector<ref::ListEntry>& entries) {
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.name);
  return names;
}

// A fresh run folder of this case under the sandbox's private /run/netns, and the sandbox's
// private /etc/netns; every name left behind is deleted (and the folder's own mount detached)
// when the case ends, however it ends.
class Scratch {
 public:
  explicit Scratch(bool conventional_run_dir = false) {
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
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
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

  std::string Path(const std::string& name) const { return ref::NamePath(options.run_dir, name); }

  // Makes options.etc_dir/name/ for exec's /etc binds and returns it. The sandbox's /etc/netns
  // when it exists or can be made (a tmpfs on the host's, or the overlay over /etc); where /etc
  // is read-only in the sandbox (no overlay: the VM guest's initramfs), a folder in the private
  // /tmp serves as etc_dir instead: the binds still go over the real /etc/<entry>.
  std::string MakeEtcFolder(const std::string& name) {
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
  FileDescriptor Open(const std::string& name) const { return OpenPath(Path(name)); }
  std::string Identity(const std::string& name) const { return IdentityOf(Path(name)); }

  ref::Options options;
  std::vector<std::string> warnings;

 private:
  std::vector<std::string> etc_folders_;
};

// A veth pair with va inside the netns `inside` and vb in a long-lived observer netns: the
// observer sees RTM_DELLINK of vb when `inside` is freed.
struct Witness {
  FileDescriptor observer = CreateNetns();
  int vb_ifindex = 0;

  explicit Witness(int inside_fd) {
    RouteClient(observer.get()).CreateVeth("vb", "va", inside_fd);
    auto vb = RouteClient(observer.get()).GetLink("vb");
    if (!vb) throw std::runtime_error("veth peer vb missing in the observer netns");
    vb_ifindex = vb->ifindex;
  }
  bool PeerExists() { return RouteClient(observer.get()).GetLink("vb").has_value(); }
};

// Whether the netns behind an nsfs path still works and holds va: a netlink socket opened inside
// it (through the path) finds the device.
bool HasVa(const std::string& path) {
  FileDescriptor fd = OpenPath(path);
  if (!fd) return false;
  return RouteClient(fd.get()).GetLink("va").has_value();
}

// A process that ran `exec`'s switch (ref::SwitchInto: setns, new slave mount namespace, fresh
// sysfs, /etc binds) and stays there until released: the "command" of `ip netns exec`, alive
// while the case looks at it from outside.
class SwitchedProcess {
 public:
  SwitchedProcess(const ref::Options& options, const std::string& name)
      : holder_([&] {
          ref::SwitchInto(options, name);  // what it throws is the error
          return HolderSetup{};
        }) {}

  pid_t pid() const { return holder_.pid(); }
  // "" when the switch worked.
  std::string error() const {
    const HolderSetup& setup = holder_.setup();
    if (setup.ok()) return "";
    return setup.message.empty() ? "the switched process: " + ErrnoName(setup.err) : setup.message;
  }
  void Release() { holder_.Release(); }

 private:
  HolderProcess holder_;
};

// A mount namespace copied from the caller's, held by an nsfs fd after the process that made it
// has gone: "another mount namespace" of ip-netns(8). private_copy: it makes every mount of its
// own private at once, so that nothing propagates to it from the caller's.
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

// The mounts at `path` (fstype and propagation fields) as seen from inside the mount namespace
// `mnt_ns` (a forked child enters it); `error` is set when the child could not look.
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

// "shared:N" of a mount's propagation fields, "" when it is not shared.
std::string PeerGroup(const std::string& optional_fields) {
  std::istringstream in(optional_fields);
  for (std::string word; in >> word;)
    if (word.rfind("shared:", 0) == 0) return word;
  return "";
}

// netns-ref run as a command in a forked child (NetnsRefMain), its output captured.
struct CliResult {
  int exit_code = -1;  // -1 when killed
  bool timed_out = false;
  pid_t pid = -1;
  std::string out, err;
  std::string Describe() const {
    return "exit=" + std::to_string(exit_code) + (timed_out ? " TIMED OUT" : "") + " stdout=\"" +
           out + "\" stderr=\"" + err + "\"";
  }
};

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

// =====================================================================================
// DESCRIPTION: a named netns is an nsfs object in /var/run/netns that can be opened
// =====================================================================================

NETNS_TEST(IpNetnsNamed, NameIsAnOpenableNsfsObjectInRunNetns,
           "ipnetns8.named.object-in-var-run-netns") {
  REQUIRE_SANDBOX();
  Scratch scratch(/*conventional_run_dir=*/true);  // /run/netns itself (the sandbox's tmpfs)
  const std::string name = "ipn-named-" + std::to_string(getpid());
  const std::string path = "/run/netns/" + name;
  ASSERT_EQ(scratch.Path(name), path);
  ASSERT_FALSE(Exists(path));
  EXPECT_FALSE(OpenPath(path).valid()) << "control: no object before add";

  ref::Add(scratch.options, name);
  Cleanup remove([&] {
    try {
      ref::Delete(scratch.options, name);
    } catch (const ref::RefError&) {
      // Deleted by the case already.
    }
  });

  struct stat st {};
  ASSERT_THAT(lstat(path.c_str(), &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISREG(st.st_mode))
      << "an nsfs inode is a regular-looking file, mode " << std::oct << st.st_mode;
  EXPECT_TRUE(IsNsfs(path)) << path << " is not on nsfs";
  FileDescriptor fd = OpenPath(path);
  ASSERT_TRUE(fd.valid()) << path << ": " << ErrnoName(errno);
  auto mounts = MountsAt(path);
  ASSERT_EQ(mounts.size(), 1u) << "exactly one mount at the name";
  EXPECT_EQ(mounts[0].fstype, "nsfs");
  // The man page's path: /var/run is /run on every current system.
  char resolved[PATH_MAX];
  if (realpath("/var/run", resolved) && std::string(resolved) == "/run") {
    struct stat via_var {};
    ASSERT_THAT(stat(("/var/run/netns/" + name).c_str(), &via_var), SyscallSucceeds());
    EXPECT_EQ(via_var.st_ino, st.st_ino);
    EXPECT_EQ(via_var.st_dev, st.st_dev);
  }

  fd.reset();
  ref::Delete(scratch.options, name);
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(OpenPath(path).valid()) << "a deleted name can still be opened";
}

NETNS_TEST(IpNetnsNamed, OpenedNameRefersToItsNetns, "ipnetns8.named.fd-refers-to-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  FileDescriptor a = s.Open("a");
  ASSERT_TRUE(a.valid()) << ErrnoName(errno);
  EXPECT_THAT(ioctl(a.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWNET));
  EXPECT_NE(s.Identity("a"), CurrentNetnsIdentity().ToString()) << "add gave the caller's netns";
  EXPECT_NE(s.Identity("a"), s.Identity("b")) << "two adds, one netns";
  // A process placed in that netns through the fd is in the very netns the name refers to.
  NetnsHolderProcess inside(a.get());
  EXPECT_EQ(IdentityOf(inside.NetnsPath()), s.Identity("a"));
  // attach: the name refers to the netns of the given process, the same as /proc/PID/ns/net.
  NetnsHolderProcess other;
  ref::Attach(s.options, "c", other.pid());
  FileDescriptor c = s.Open("c");
  ASSERT_TRUE(c.valid());
  EXPECT_THAT(ioctl(c.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWNET));
  EXPECT_EQ(IdentifyNetns(c.get()).ToString(), IdentityOf(other.NetnsPath()));
  // Negative: a plain file in the folder opens, but refers to no namespace at all.
  ASSERT_TRUE(
      FileDescriptor(open(s.Path("junk").c_str(), O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0600))
          .valid());
  FileDescriptor junk = s.Open("junk");
  EXPECT_THAT(ioctl(junk.get(), NS_GET_NSTYPE), SyscallFailsWithErrno(ENOTTY));
}

NETNS_TEST(IpNetnsNamed, OpenedNameIsUsableWithSetns, "ipnetns8.named.fd-usable-with-setns") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  FileDescriptor a = s.Open("a");
  ASSERT_TRUE(a.valid());
  const std::string before = CurrentNetnsIdentity().ToString();
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ch.Record("setns_uts", setns(a.get(), CLONE_NEWUTS));  // wrong type for this fd
    if (ch.Record("setns_net", setns(a.get(), CLONE_NEWNET)) != 0) return;
    ch.Note("now", CurrentNetnsIdentity().ToString());
    ch.Record("setns_any", setns(a.get(), 0));  // nstype 0: any type
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("setns_uts"), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(child.Call("setns_net"), SyscallSucceeds());
  EXPECT_THAT(child.Call("setns_any"), SyscallSucceeds());
  EXPECT_EQ(child.notes["now"], s.Identity("a")) << "setns landed elsewhere";
  EXPECT_EQ(CurrentNetnsIdentity().ToString(), before) << "the parent moved";
  // Without CAP_SYS_ADMIN the same fd is refused.
  auto nobody = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    ch.Record("setns_net", setns(a.get(), CLONE_NEWNET));
  });
  ASSERT_TRUE(nobody.Ok()) << nobody.Describe();
  EXPECT_THAT(nobody.Call("setns_net"), SyscallFailsWithErrno(EPERM));
}

// =====================================================================================
// add
// =====================================================================================

NETNS_TEST(IpNetnsAdd, AddCreatesANewNetnsUnderTheName, "ipnetns8.add.creates-named-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  ASSERT_FALSE(Exists(s.options.run_dir)) << "control: the run folder is made by add";
  const std::string caller = CurrentNetnsIdentity().ToString();
  ref::Add(s.options, "a");
  EXPECT_TRUE(Exists(s.options.run_dir));
  EXPECT_TRUE(IsNsfs(s.Path("a")));
  EXPECT_EQ(CurrentNetnsIdentity().ToString(), caller) << "add moved the caller";
  const std::string a = s.Identity("a");
  EXPECT_NE(a, caller);
  {
    FileDescriptor fd = s.Open("a");
    std::vector<std::string> links;
    for (const auto& link : RouteClient(fd.get()).DumpLinks()) links.push_back(link.name);
    EXPECT_THAT(links, ElementsAre("lo")) << "a new netns holds only its loopback";
  }
  EXPECT_THAT(ref::Pids(s.options, "a"), IsEmpty()) << "no process was left inside";
  // A name persists with no process in the netns: the same netns, still working.
  Witness witness(s.Open("a").get());
  EXPECT_EQ(s.Identity("a"), a);
  EXPECT_TRUE(HasVa(s.Path("a")));
  // "If NAME is available": an existing name is not replaced.
  auto again = RefErrorOf([&] { ref::Add(s.options, "a"); });
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->err(), EEXIST) << again->what();
  EXPECT_EQ(s.Identity("a"), a) << "a failed add replaced the netns";
  EXPECT_TRUE(HasVa(s.Path("a")));
}

constexpr const char* kAddErrors = "sem.B8.1.add-errors";

NETNS_TEST(IpNetnsAdd, ExistingNameIsEexistAndLeftAlone, kAddErrors) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  const std::string a = s.Identity("a");
  auto error = RefErrorOf([&] { ref::Add(s.options, "a"); });
  ASSERT_TRUE(error.has_value()) << "a second add of one name succeeded";
  EXPECT_EQ(error->err(), EEXIST);
  EXPECT_THAT(error->what(), HasSubstr("exists"));
  EXPECT_EQ(error->exit_code(), 1);  // ip: 1 ("File exists")
  EXPECT_EQ(s.Identity("a"), a);
  EXPECT_EQ(MountsAt(s.Path("a")).size(), 1u) << "a second bind was stacked on the name";
  // attach onto an existing name fails the same way.
  NetnsHolderProcess other;
  auto attach = RefErrorOf([&] { ref::Attach(s.options, "a", other.pid()); });
  ASSERT_TRUE(attach.has_value());
  EXPECT_EQ(attach->err(), EEXIST);
  EXPECT_EQ(s.Identity("a"), a);
  // The command without a name.
  CliResult no_name = RunRefCommand(s, {"add"});
  EXPECT_EQ(no_name.exit_code, 1) << no_name.Describe();
  EXPECT_THAT(no_name.err, HasSubstr("no netns name")) << no_name.Describe();
}

NETNS_TEST(IpNetnsAdd, InvalidNamesAreRefusedBeforeAnythingIsMade, kAddErrors) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "ok");
  ASSERT_THAT(mkdir(s.Path("d").c_str(), 0755), SyscallSucceeds());
  const std::vector<std::string> invalid = {
      "", std::string(NAME_MAX + 1, 'x'), "d/b", ".", "..", "../escaped"};
  for (const auto& name : invalid) {
    auto error = RefErrorOf([&] { ref::Add(s.options, name); });
    ASSERT_TRUE(error.has_value()) << "add accepted '" << name << "'";
    EXPECT_THAT(error->what(), HasSubstr("invalid netns name")) << name;
    // ip exits 255 here (exit(-1)); the reference exits 1 for every error it finds itself.
    EXPECT_EQ(error->exit_code(), 1) << name;
  }
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), UnorderedElementsAre("ok", "d"));
  EXPECT_THAT(ref::ReadNames(s.Path("d")), IsEmpty()) << "add 'd/b' created something";
  EXPECT_FALSE(Exists(s.options.run_dir + "/../escaped")) << "a name escaped the run folder";
  // Boundary: a name of exactly NAME_MAX bytes is valid.
  const std::string longest(NAME_MAX, 'n');
  EXPECT_NO_THROW(ref::Add(s.options, longest));
  EXPECT_TRUE(IsNsfs(s.Path(longest)));
  // The command: an invalid name is an error, before the folder is even made.
  Scratch fresh;
  CliResult dots = RunRefCommand(fresh, {"add", ".."});
  EXPECT_NE(dots.exit_code, 0) << dots.Describe();
  EXPECT_THAT(dots.err, HasSubstr("invalid netns name")) << dots.Describe();
  EXPECT_FALSE(Exists(fresh.options.run_dir)) << "an invalid add made the run folder";
}

NETNS_TEST(IpNetnsAdd, FailedAttachLeavesNoFile, kAddErrors) {
  REQUIRE_SANDBOX();
  Scratch s;
  // A pid that no process has: a child that exited and was reaped.
  std::fflush(nullptr);
  const pid_t gone = fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) _exit(0);
  ASSERT_THAT(waitpid(gone, nullptr, 0), SyscallSucceedsWithValue(gone));
  ASSERT_FALSE(Exists("/proc/" + std::to_string(gone))) << "control: pid " << gone << " is free";

  auto error = RefErrorOf([&] { ref::Attach(s.options, "u", gone); });
  ASSERT_TRUE(error.has_value()) << "attach to a dead pid succeeded";
  EXPECT_EQ(error->err(), ENOENT) << error->what();
  EXPECT_FALSE(Exists(s.Path("u"))) << "the failed attach left its file behind";
  // Control: attach to a live process works and names its netns.
  NetnsHolderProcess live;
  ref::Attach(s.options, "u", live.pid());
  EXPECT_EQ(s.Identity("u"), IdentityOf(live.NetnsPath()));
}

NETNS_TEST(IpNetnsAdd, RunFolderIsASharedMountAndNamesAreNsfsBinds,
           "sem.B8.1.add-bind-mounts-nsfs") {
  REQUIRE_SANDBOX();
  Scratch s;
  ASSERT_THAT(MountsAt(s.options.run_dir), IsEmpty()) << "control: not a mount point before add";
  ref::Add(s.options, "a");
  auto folder = MountsAt(s.options.run_dir);
  ASSERT_EQ(folder.size(), 1u) << "the run folder is bound on itself once";
  EXPECT_THAT(folder[0].optional_fields, HasSubstr("shared:")) << "the run folder is not shared";
  auto name = MountsAt(s.Path("a"));
  ASSERT_EQ(name.size(), 1u);
  EXPECT_EQ(name[0].fstype, "nsfs");
  EXPECT_THAT(name[0].optional_fields, HasSubstr("shared:")) << "the name joined no peer group";
  // A second add reuses the folder's mount: no stacking (Debian #949235).
  ref::Add(s.options, "b");
  EXPECT_EQ(MountsAt(s.options.run_dir).size(), 1u);
  // Shared: a name added after another mount namespace was copied reaches that copy too.
  FileDescriptor other = CopyMountNamespace(/*private_copy=*/false);
  ref::Add(s.options, "c");
  std::string error;
  auto seen = MountsAtIn(other.get(), s.Path("c"), &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(seen.size(), 1u) << "the bind of c did not propagate to the other mount namespace";
  EXPECT_EQ(seen[0].fstype, "nsfs");
}

// =====================================================================================
// delete
// =====================================================================================

NETNS_TEST(IpNetnsDel, DeleteUnmountsAndRemovesTheName, "ipnetns8.del.umounts-and-removes") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  ASSERT_EQ(MountsAt(s.Path("a")).size(), 1u);
  ref::Delete(s.options, "a");
  EXPECT_THAT(MountsAt(s.Path("a")), IsEmpty()) << "the bind mount is still there";
  EXPECT_FALSE(Exists(s.Path("a"))) << "the mount point was not removed";
  EXPECT_TRUE(IsNsfs(s.Path("b"))) << "another name was touched";
  EXPECT_EQ(MountsAt(s.Path("b")).size(), 1u);
  // A name is added again after its delete.
  EXPECT_NO_THROW(ref::Add(s.options, "a"));
  // Edge: a file in the folder that was never bound (nothing to unmount) is removed too.
  ASSERT_TRUE(WriteText(s.Path("plain"), ""));
  EXPECT_NO_THROW(ref::Delete(s.options, "plain"));
  EXPECT_FALSE(Exists(s.Path("plain")));
}

NETNS_TEST(IpNetnsDel, DeletingTheLastUserFreesTheNetns, "ipnetns8.del.last-user-frees-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  ASSERT_THAT(ref::Pids(s.options, "a"), IsEmpty()) << "control: the name is the only user";
  ASSERT_TRUE(witness.PeerExists());
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});
  ref::Delete(s.options, "a");
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
      << "deleting the last user's name did not free the netns";
}

NETNS_TEST(IpNetnsDel, NetnsPersistsWhileAProcessIsInside, "ipnetns8.del.persists-while-users",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  const std::string a = s.Identity("a");
  Witness witness(s.Open("a").get());
  std::optional<NetnsHolderProcess> inside;
  inside.emplace(s.Open("a").get());
  const pid_t pid = inside->pid();
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});

  ref::Delete(s.options, "a");  // ip: exits 0 although a process is inside
  EXPECT_FALSE(Exists(s.Path("a")));
  EXPECT_EQ(IdentityOf(ProcNet(pid)), a) << "the process left the netns";
  EXPECT_TRUE(HasVa(ProcNet(pid))) << "the netns lost its devices while a process is inside";
  EXPECT_TRUE(witness.PeerExists());
  EXPECT_FALSE(watcher.WaitLinkDeleted(witness.vb_ifindex, milliseconds(0)))
      << "the netns was freed with a process inside";

  inside.reset();  // the last user goes
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
      << "the netns outlived its last user";
}

NETNS_TEST(IpNetnsDel, NetnsPersistsWhileAnFdIsOpen, "ipnetns8.del.persists-while-users",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  FileDescriptor held = s.Open("a");
  const std::string held_path = "/proc/self/fd/" + std::to_string(held.get());
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});
  ref::Delete(s.options, "a");
  EXPECT_TRUE(HasVa(held_path)) << "the netns behind an open fd lost its devices";
  EXPECT_TRUE(witness.PeerExists());
  held.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline));
}

constexpr const char* kMayFail = "ipnetns8.del.may-fail-mount-in-use";

// The run folder is shared so that del's unmount propagates to every mount namespace copied
// from this one: the copy's mount goes too, and the netns is freed.
NETNS_TEST(IpNetnsDel, SharedRunFolderLetsDelReachOtherMountNamespaces, kMayFail,
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  FileDescriptor other = CopyMountNamespace(/*private_copy=*/false);
  std::string error;
  auto copy = MountsAtIn(other.get(), s.Path("a"), &error);
  ASSERT_EQ(copy.size(), 1u) << error;
  // Its copy of the name is a peer of ours: del's unmount reaches it by propagation (unlink's
  // detaching of other namespaces' mounts, Linux 3.18+, is not what this relies on).
  auto ours = MountsAt(s.Path("a"));
  ASSERT_EQ(ours.size(), 1u);
  EXPECT_NE(PeerGroup(ours[0].optional_fields), "") << "the name is not a shared mount";
  EXPECT_EQ(PeerGroup(copy[0].optional_fields), PeerGroup(ours[0].optional_fields))
      << "the other mount namespace's copy is not a peer of the name";
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});

  EXPECT_NO_THROW(ref::Delete(s.options, "a"));
  EXPECT_FALSE(Exists(s.Path("a")));
  EXPECT_THAT(MountsAtIn(other.get(), s.Path("a"), &error), IsEmpty())
      << "the other mount namespace still holds the name " << error;
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
      << "the netns outlived del: a mount in the other mount namespace holds it";
}

// A copy with private propagation still holds the bind mount after del's unmount. ip-netns(8):
// del "may fail". Since Linux 3.18, unlink of a file that is a mount point only in *other* mount
// namespaces succeeds and detaches those mounts (vfs_unlink: detach_mounts): then del must leave
// nothing behind. Either outcome conforms; a del that succeeds while the netns lives on hidden in
// the other namespace does not.
NETNS_TEST(IpNetnsDel, PrivateCopyInAnotherMountNamespace, kMayFail, .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  FileDescriptor other = CopyMountNamespace(/*private_copy=*/true);
  std::string error;
  auto copy = MountsAtIn(other.get(), s.Path("a"), &error);
  ASSERT_EQ(copy.size(), 1u) << error;
  ASSERT_EQ(PeerGroup(copy[0].optional_fields), "") << "control: the copy is private";
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});

  auto failure = RefErrorOf([&] { ref::Delete(s.options, "a"); });
  if (failure) {
    ::testing::Test::RecordProperty("outcome", "del failed");
    EXPECT_EQ(failure->err(), EBUSY) << failure->what();
    EXPECT_TRUE(Exists(s.Path("a"))) << "a failed del removed the name";
    EXPECT_TRUE(witness.PeerExists());
  } else {
    ::testing::Test::RecordProperty("outcome", "del succeeded, other namespace detached");
    EXPECT_FALSE(Exists(s.Path("a")));
    EXPECT_THAT(MountsAtIn(other.get(), s.Path("a"), &error), IsEmpty())
        << "del succeeded but the other mount namespace still holds the netns " << error;
    EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
        << "del succeeded but the netns lives on in the other mount namespace";
  }
}

NETNS_TEST(IpNetnsDel, AllRemovesEveryName, "ipnetns8.del.all-removes-every-name",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s, elsewhere;
  FileDescriptor observer = CreateNetns();
  std::vector<int> peers;
  for (const std::string name : {"a", "b", "c"}) {
    ref::Add(s.options, name);
    const std::string peer = "p" + name;
    RouteClient(observer.get()).CreateVeth(peer, "va", s.Open(name).get());
    peers.push_back(RouteClient(observer.get()).GetLink(peer)->ifindex);
  }
  ref::Add(elsewhere.options, "kept");
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK});

  EXPECT_NO_THROW(ref::DeleteAll(s.options));
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), IsEmpty());
  for (const char* name : {"a", "b", "c"}) EXPECT_THAT(MountsAt(s.Path(name)), IsEmpty()) << name;
  std::set<int> freed;
  for (size_t i = 0; i < peers.size(); ++i) {
    auto gone = watcher.WaitLink(
        [&](const LinkEvent& e) {
          return e.type == RTM_DELLINK &&
                 std::find(peers.begin(), peers.end(), e.link.ifindex) != peers.end() &&
                 !freed.count(e.link.ifindex);
        },
        kDeadline);
    ASSERT_TRUE(gone.has_value()) << "only " << freed.size() << " of 3 netns were freed";
    freed.insert(gone->link.ifindex);
  }
  EXPECT_TRUE(IsNsfs(elsewhere.Path("kept"))) << "-all del reached another run folder";
  // The command spelling, and a missing folder that holds no names.
  ref::Add(s.options, "d");
  CliResult cli = RunRefCommand(s, {"-all", "del"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), IsEmpty());
  ref::Options missing = s.options;
  missing.run_dir = s.options.run_dir + "-missing";
  EXPECT_NO_THROW(ref::DeleteAll(missing));
}

constexpr const char* kDelMissing = "sem.B8.2.del-missing-name-fails";

NETNS_TEST(IpNetnsDel, DeleteOfAMissingNameFails, kDelMissing) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  auto error = RefErrorOf([&] { ref::Delete(s.options, "nope"); });
  ASSERT_TRUE(error.has_value()) << "del of a missing name succeeded";
  EXPECT_EQ(error->err(), ENOENT) << error->what();
  EXPECT_EQ(error->exit_code(), 1);
  EXPECT_TRUE(IsNsfs(s.Path("a"))) << "a failed del touched another name";
  ref::Delete(s.options, "a");
  auto twice = RefErrorOf([&] { ref::Delete(s.options, "a"); });
  ASSERT_TRUE(twice.has_value()) << "a second del of one name succeeded";
  EXPECT_EQ(twice->err(), ENOENT);
  // An invalid name never reaches outside the folder.
  ASSERT_TRUE(WriteText(s.options.run_dir + "-outside", ""));
  Cleanup outside([&] { unlink((s.options.run_dir + "-outside").c_str()); });
  const std::string base = s.options.run_dir.substr(s.options.run_dir.rfind('/') + 1);
  EXPECT_TRUE(RefErrorOf([&] { ref::Delete(s.options, "../" + base + "-outside"); }).has_value());
  EXPECT_TRUE(Exists(s.options.run_dir + "-outside")) << "del removed a file outside the folder";
  // The command.
  CliResult cli = RunRefCommand(s, {"del", "nope"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_THAT(cli.err, HasSubstr("nope")) << cli.Describe();
}

// ---- physical devices (need a refundable device: a lent NIC, or netdevsim in the VM) -----------

// The lent device moved into a name `net0` made by the reference: the set-up of the cases below.
// Members go in reverse order: the scratch run folder first, then the name is restored, then the
// device and the turn are given back.
struct DeviceInNet0 {
  DeviceTurn turn;
  RefundableDevice device = RefundableDevice::Acquire();
  RouteClient init{device.init_netns()};
  std::optional<LinkInfo> before = init.GetLink(device.name());
  Cleanup restore = RestoreName(init, device.name(), before ? before->ifindex : 0);
  Scratch s;

  // Adds net0 and moves the device there; false (with a failure recorded) when it is not in the
  // initial netns to begin with.
  bool Setup() {
    if (!before) {
      ADD_FAILURE() << device.name() << " is not in the initial netns";
      return false;
    }
    ref::Add(s.options, "net0");
    init.MoveToNetns(before->ifindex, s.Open("net0").get());
    return true;
  }
};

NETNS_TEST(IpNetnsDel, PhysicalDeviceMovesToTheDefaultNetnsOnDel,
           "ipnetns8.del.physdev-moved-to-default", .refundable_device = true) {
  REQUIRE_SANDBOX();
  DeviceInNet0 d;
  ASSERT_TRUE(d.Setup());
  RefundableDevice& device = d.device;
  RouteClient& init = d.init;
  Scratch& s = d.s;
  ASSERT_FALSE(init.GetLink(device.name()).has_value());
  ASSERT_TRUE(RouteClient(s.Open("net0").get()).GetLink(device.name()).has_value());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  ref::Delete(s.options, "net0");

  ASSERT_TRUE(watcher.WaitLinkAppeared(device.name(), kDeadline))
      << device.name() << " did not come back to the default netns";
  EXPECT_TRUE(init.GetLink(device.name()).has_value());
  EXPECT_FALSE(RouteClient().GetLink(device.name()).has_value())
      << "it went to the caller's netns, not the default (initial) one";
}

constexpr const char* kPhysdevHeld = "ipnetns8.del.physdev-held-by-running-process";

NETNS_TEST(IpNetnsDel, PhysicalDeviceStaysAwayWhileAProcessRunsInside, kPhysdevHeld,
           .refundable_device = true) {
  REQUIRE_SANDBOX();
  DeviceInNet0 d;
  ASSERT_TRUE(d.Setup());
  RefundableDevice& device = d.device;
  RouteClient& init = d.init;
  Scratch& s = d.s;
  std::optional<NetnsHolderProcess> background;  // SOME_PROCESS_IN_BACKGROUND
  background.emplace(s.Open("net0").get());
  const std::string inside = ProcNet(background->pid());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  ref::Delete(s.options, "net0");
  EXPECT_FALSE(Exists(s.Path("net0")));
  EXPECT_FALSE(init.GetLink(device.name()).has_value())
      << "the device came back while a process is still inside";
  {
    FileDescriptor fd = OpenPath(inside);
    ASSERT_TRUE(fd.valid());
    EXPECT_TRUE(RouteClient(fd.get()).GetLink(device.name()).has_value())
        << "the device is neither in the netns nor back";
  }
  EXPECT_FALSE(watcher.WaitLinkAppeared(device.name(), milliseconds(0)));

  background.reset();  // the process exits: only now the device appears in the default netns
  EXPECT_TRUE(watcher.WaitLinkAppeared(device.name(), kDeadline))
      << device.name() << " did not come back after the last process exited";
}

// The man page's remedy: `ip netns pids net0 | xargs kill; ip netns del net0`.
NETNS_TEST(IpNetnsDel, KillingThePidsBeforeDelBringsTheDeviceBack, kPhysdevHeld,
           .refundable_device = true) {
  REQUIRE_SANDBOX();
  DeviceInNet0 d;
  ASSERT_TRUE(d.Setup());
  RefundableDevice& device = d.device;
  RouteClient& init = d.init;
  Scratch& s = d.s;
  NetnsHolderProcess first(s.Open("net0").get()), second(s.Open("net0").get());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  const auto pids = ref::Pids(s.options, "net0");
  ASSERT_THAT(pids, UnorderedElementsAre(first.pid(), second.pid()));
  for (pid_t pid : pids) EXPECT_THAT(kill(pid, SIGKILL), SyscallSucceeds());
  ref::Delete(s.options, "net0");

  EXPECT_TRUE(watcher.WaitLinkAppeared(device.name(), kDeadline))
      << device.name() << " did not come back after pids were killed and the name deleted";
  EXPECT_TRUE(init.GetLink(device.name()).has_value());
}

// =====================================================================================
// set / list-id: nsids
// =====================================================================================

// Runs fn with the calling thread in a fresh netns (the "current network namespace" of set and
// list-id), so that nsids start from nothing whatever ran before in this process.
struct Observer {
  FileDescriptor netns = CreateNetns();
  template <typename Fn>
  void Run(Fn&& fn) {
    RunInNetns(netns.get(), std::forward<Fn>(fn));
  }
};

NETNS_TEST(IpNetnsSet, SetAssignsAnNsidToThePeer, "ipnetns8.set.assigns-nsid") {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer current;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  RouteClient client(current.netns.get());
  ASSERT_EQ(client.GetNsid(s.Open("a").get()), -1) << "control: no nsid before set";
  int result = -2;
  current.Run([&] { result = ref::SetNsid(s.options, "a", 5); });
  EXPECT_EQ(result, 5);
  EXPECT_EQ(client.GetNsid(s.Open("a").get()), 5);
  EXPECT_EQ(client.GetNsid(s.Open("b").get()), -1) << "set touched another netns";
  EXPECT_THAT(client.DumpNsids(), ElementsAre(5));
  std::vector<ref::ListEntry> list;
  current.Run([&] { list = ref::List(s.options); });
  for (const auto& entry : list)
    EXPECT_EQ(entry.ToString(), entry.name == "a" ? "a (id: 5)" : entry.name);
  // set of a missing name fails without assigning anything.
  auto missing = RefErrorOf([&] { current.Run([&] { ref::SetNsid(s.options, "nope", 6); }); });
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->err(), ENOENT);
  EXPECT_THAT(client.DumpNsids(), ElementsAre(5));
}

NETNS_TEST(IpNetnsSet, NsidIsValidOnlyInTheCurrentNetns,
           "ipnetns8.set.nsid-valid-only-in-current-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer first, second;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  first.Run([&] { ref::SetNsid(s.options, "a", 5); });
  RouteClient in_first(first.netns.get()), in_second(second.netns.get());
  EXPECT_EQ(in_first.GetNsid(s.Open("a").get()), 5);
  EXPECT_EQ(in_second.GetNsid(s.Open("a").get()), -1) << "the nsid leaked into another netns";
  EXPECT_EQ(RouteClient(s.Open("a").get()).GetNsid(first.netns.get()), -1)
      << "the nsid is not symmetric: a has no id for the netns that named it";
  // The same number means another netns elsewhere, and the same netns another number.
  second.Run([&] { ref::SetNsid(s.options, "b", 5); });
  second.Run([&] { ref::SetNsid(s.options, "a", 9); });
  EXPECT_EQ(in_second.GetNsid(s.Open("b").get()), 5);
  EXPECT_EQ(in_second.GetNsid(s.Open("a").get()), 9);
  EXPECT_EQ(in_first.GetNsid(s.Open("a").get()), 5);
  EXPECT_EQ(in_first.GetNsid(s.Open("b").get()), -1);
}

NETNS_TEST(IpNetnsSet, NsidIsUsedInNetlinkMessages, "ipnetns8.set.nsid-used-in-netlink",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer current;
  ref::Add(s.options, "a");
  EventWatcher nsid_events(current.netns.get(), {RTNLGRP_NSID});
  current.Run([&] { ref::SetNsid(s.options, "a", 7); });
  auto announced = nsid_events.WaitNsid(
      [](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == 7; }, kDeadline);
  EXPECT_TRUE(announced.has_value()) << "no RTM_NEWNSID carrying the nsid set";
  // A link whose peer is in a: IFLA_LINK_NETNSID names a by the nsid set.
  RouteClient client(current.netns.get());
  client.CreateVeth("vb", "va", s.Open("a").get());
  auto vb = client.GetLink("vb");
  ASSERT_TRUE(vb.has_value());
  ASSERT_TRUE(vb->link_netnsid.has_value()) << "no IFLA_LINK_NETNSID on a veth end";
  EXPECT_EQ(*vb->link_netnsid, 7);
  // Control: a netns without a set nsid is not given 7.
  ref::Add(s.options, "b");
  client.CreateVeth("vc", "va", s.Open("b").get());
  auto vc = client.GetLink("vc");
  ASSERT_TRUE(vc.has_value() && vc->link_netnsid.has_value());
  EXPECT_NE(*vc->link_netnsid, 7);
  // When a dies, the kernel says so with that nsid.
  ref::Delete(s.options, "a");
  EXPECT_TRUE(nsid_events
                  .WaitNsid([](const NsidEvent& e) { return e.type == RTM_DELNSID && e.nsid == 7; },
                            kDeadline)
                  .has_value())
      << "no RTM_DELNSID with the nsid set";
}

NETNS_TEST(IpNetnsSet, KernelAssignsAnNsidWhenItNeedsOne, "ipnetns8.set.auto-assigned-when-needed",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer current;
  ref::Add(s.options, "a");
  RouteClient client(current.netns.get());
  ASSERT_EQ(client.GetNsid(s.Open("a").get()), -1) << "control: none before it is needed";
  EventWatcher nsid_events(current.netns.get(), {RTNLGRP_NSID});
  // Reporting vb's peer netns needs an nsid for a in the current netns.
  client.CreateVeth("vb", "va", s.Open("a").get());
  const int assigned = client.GetNsid(s.Open("a").get());
  EXPECT_GE(assigned, 0) << "the kernel did not assign an nsid it needed";
  auto vb = client.GetLink("vb");
  ASSERT_TRUE(vb.has_value() && vb->link_netnsid.has_value());
  EXPECT_EQ(*vb->link_netnsid, assigned);
  EXPECT_TRUE(
      nsid_events
          .WaitNsid([&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == assigned; },
                    kDeadline)
          .has_value())
      << "the automatic assignment was not announced";
  std::vector<ref::ListEntry> list;
  current.Run([&] { list = ref::List(s.options); });
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].nsid, std::optional<int>(assigned));
  // Once assigned automatically, it is assigned: set cannot change it either.
  auto change = RefErrorOf([&] { current.Run([&] { ref::SetNsid(s.options, "a", 42); }); });
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->err(), EEXIST);
}

NETNS_TEST(IpNetnsSet, AnAssignedNsidCannotBeChanged, "ipnetns8.set.cannot-change") {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer current;
  ref::Add(s.options, "a");
  current.Run([&] { ref::SetNsid(s.options, "a", 5); });
  for (int attempt : {6, 5, -1}) {
    auto error = RefErrorOf([&] { current.Run([&] { ref::SetNsid(s.options, "a", attempt); }); });
    ASSERT_TRUE(error.has_value()) << "set " << attempt << " after 5 succeeded";
    EXPECT_EQ(error->err(), EEXIST) << error->what();
    EXPECT_THAT(error->what(), HasSubstr("already has a nsid")) << attempt;
  }
  EXPECT_EQ(RouteClient(current.netns.get()).GetNsid(s.Open("a").get()), 5);
  // Not even through another name of the same netns.
  NetnsHolderProcess inside(s.Open("a").get());
  ref::Attach(s.options, "alias", inside.pid());
  auto alias = RefErrorOf([&] { current.Run([&] { ref::SetNsid(s.options, "alias", 8); }); });
  ASSERT_TRUE(alias.has_value());
  EXPECT_EQ(alias->err(), EEXIST);
  EXPECT_EQ(RouteClient(current.netns.get()).GetNsid(s.Open("alias").get()), 5);
}

NETNS_TEST(IpNetnsSet, AutoTakesTheLowestFreeAndKernelRefusalsAreErrors,
           "sem.B8.7.set-auto-and-errors") {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer current;
  for (const char* name : {"a", "b", "c", "d"}) ref::Add(s.options, name);
  int b = -2, c = -2;
  current.Run([&] {
    ref::SetNsid(s.options, "a", 0);
    ref::SetNsid(s.options, "d", 2);
    b = ref::SetNsid(s.options, "b", -1);  // auto
    c = ref::SetNsid(s.options, "c", -1);
  });
  EXPECT_EQ(b, 1) << "auto must take the hole between 0 and 2";
  EXPECT_EQ(c, 3);
  // A taken nsid is refused by the kernel (EEXIST); ip exits 2, the reference 1.
  ref::Add(s.options, "e");
  auto taken = RefErrorOf([&] { current.Run([&] { ref::SetNsid(s.options, "e", 2); }); });
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->err(), EEXIST);
  EXPECT_THAT(taken->what(), HasSubstr("nsid is already used"));
  EXPECT_NE(taken->exit_code(), 0);
  EXPECT_EQ(RouteClient(current.netns.get()).GetNsid(s.Open("e").get()), -1);
  // The command: "auto", and a negative nsid refused before the kernel is asked.
  CliResult negative = RunRefCommand(s, {"set", "e", "-3"});
  EXPECT_NE(negative.exit_code, 0) << negative.Describe();
  CliResult word = RunRefCommand(s, {"set", "e", "sometime"});
  EXPECT_NE(word.exit_code, 0) << word.Describe();
  CliResult automatic = RunRefCommand(s, {"set", "e", "auto"});
  EXPECT_EQ(automatic.exit_code, 0) << automatic.Describe();
  // Run in this process's netns, the command gave e an nsid there.
  EXPECT_GE(RouteClient().GetNsid(s.Open("e").get()), 0);
}

NETNS_TEST(IpNetnsQuery, ListIdShowsNsidsAndTheirNames, "ipnetns8.list-id.shows-nsids-and-names") {
  REQUIRE_SANDBOX();
  Scratch s;
  Observer current;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  FileDescriptor unnamed = CreateNetns();
  std::vector<ref::NsidEntry> empty, ids;
  current.Run([&] { empty = ref::ListIds(s.options); });
  EXPECT_THAT(empty, IsEmpty()) << "control: a fresh netns has no nsids";
  current.Run([&] {
    ref::SetNsid(s.options, "a", 4);
    ref::SetNsid(s.options, "b", 1);
  });
  RouteClient(current.netns.get()).SetNsid(unnamed.get(), 9);
  current.Run([&] { ids = ref::ListIds(s.options); });
  std::vector<std::string> lines;
  for (const auto& entry : ids) lines.push_back(entry.ToString());
  EXPECT_THAT(lines, ElementsAre("nsid 1 (iproute2 netns name: b)",
                                 "nsid 4 (iproute2 netns name: a)", "nsid 9 "));
  // A deleted name: its netns dies, and its nsid with it.
  EventWatcher nsid_events(current.netns.get(), {RTNLGRP_NSID});
  ref::Delete(s.options, "a");
  ASSERT_TRUE(nsid_events
                  .WaitNsid([](const NsidEvent& e) { return e.type == RTM_DELNSID && e.nsid == 4; },
                            kDeadline)
                  .has_value());
  current.Run([&] { ids = ref::ListIds(s.options); });
  lines.clear();
  for (const auto& entry : ids) lines.push_back(entry.ToString());
  EXPECT_THAT(lines, ElementsAre("nsid 1 (iproute2 netns name: b)", "nsid 9 "));
}

// =====================================================================================
// list, identify, pids
// =====================================================================================

NETNS_TEST(IpNetnsQuery, ListShowsEveryNamedNetns, "ipnetns8.list.shows-named-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  EXPECT_THAT(ref::List(s.options), IsEmpty()) << "a missing run folder holds no names";
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  NetnsHolderProcess other;
  ref::Attach(s.options, "c", other.pid());
  EXPECT_THAT(Names(ref::List(s.options)), UnorderedElementsAre("a", "b", "c"));
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), UnorderedElementsAre("a", "b", "c"))
      << "list does not show what is in the folder";
  ref::Delete(s.options, "b");
  EXPECT_THAT(Names(ref::List(s.options)), UnorderedElementsAre("a", "c"));
  // The command prints one name a line.
  CliResult cli = RunRefCommand(s, {"list"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_THAT(Lines(cli.out), UnorderedElementsAre("a", "c")) << cli.Describe();
  ref::DeleteAll(s.options);
  EXPECT_THAT(ref::List(s.options), IsEmpty());
}

NETNS_TEST(IpNetnsQuery, IdentifyFindsEveryNameOfAProcessNetns,
           "ipnetns8.identify.names-of-process") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  NetnsHolderProcess in_a(s.Open("a").get());
  ref::Attach(s.options, "a2", in_a.pid());  // a second name of a's netns
  EXPECT_THAT(ref::Identify(s.options, in_a.pid()), UnorderedElementsAre("a", "a2"));
  // It agrees with /proc: the names whose inode is that of /proc/PID/ns/net.
  struct stat proc {};
  ASSERT_THAT(stat(ProcNet(in_a.pid()).c_str(), &proc), SyscallSucceeds());
  std::vector<std::string> expected;
  for (const auto& name : ref::ReadNames(s.options.run_dir)) {
    struct stat st {};
    if (stat(s.Path(name).c_str(), &st) == 0 && st.st_ino == proc.st_ino &&
        st.st_dev == proc.st_dev)
      expected.push_back(name);
  }
  EXPECT_THAT(ref::Identify(s.options, in_a.pid()), UnorderedElementsAre("a", "a2"));
  EXPECT_THAT(expected, UnorderedElementsAre("a", "a2"));
  // No PID: the calling process. Its netns has no name until one is attached.
  EXPECT_THAT(ref::Identify(s.options, std::nullopt), IsEmpty());
  ref::Attach(s.options, "self", getpid());
  EXPECT_THAT(ref::Identify(s.options, std::nullopt), ElementsAre("self"));
  EXPECT_THAT(ref::Identify(s.options, getpid()), ElementsAre("self"));
  // A process that entered b through exec's switch is identified as b.
  SwitchedProcess exec_b(s.options, "b");
  ASSERT_EQ(exec_b.error(), "");
  EXPECT_THAT(ref::Identify(s.options, exec_b.pid()), ElementsAre("b"));
}

NETNS_TEST(IpNetnsQuery, IdentifyEdgeCases, "sem.B8.4.identify-edge-cases") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  NetnsHolderProcess unnamed;
  EXPECT_THAT(ref::Identify(s.options, unnamed.pid()), IsEmpty()) << "no name matches";
  // A pid without a process.
  std::fflush(nullptr);
  const pid_t gone = fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) _exit(0);
  ASSERT_THAT(waitpid(gone, nullptr, 0), SyscallSucceedsWithValue(gone));
  auto missing = RefErrorOf([&] { ref::Identify(s.options, gone); });
  ASSERT_TRUE(missing.has_value()) << "identify of a dead pid succeeded";
  EXPECT_EQ(missing->err(), ENOENT);
  // The command: no match prints an empty line and exits 0; a non-number exits 1.
  CliResult none = RunRefCommand(s, {"identify", std::to_string(unnamed.pid())});
  EXPECT_EQ(none.exit_code, 0) << none.Describe();
  EXPECT_EQ(none.out, "\n") << none.Describe();
  CliResult abc = RunRefCommand(s, {"identify", "abc"});
  EXPECT_EQ(abc.exit_code, 1) << abc.Describe();
  EXPECT_THAT(abc.err, HasSubstr("not a pid")) << abc.Describe();
  EXPECT_EQ(abc.out, "") << abc.Describe();
  // Control: a match prints the name.
  NetnsHolderProcess in_a(s.Open("a").get());
  CliResult match = RunRefCommand(s, {"identify", std::to_string(in_a.pid())});
  EXPECT_EQ(match.exit_code, 0) << match.Describe();
  EXPECT_EQ(match.out, "a\n") << match.Describe();
}

NETNS_TEST(IpNetnsQuery, PidsListsEveryProcessInTheNetns, "ipnetns8.pids.lists-processes") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  EXPECT_THAT(ref::Pids(s.options, "a"), IsEmpty());
  NetnsHolderProcess second(s.Open("a").get());
  NetnsHolderProcess in_b(s.Open("b").get());
  SwitchedProcess exec_a(s.options, "a");
  ASSERT_EQ(exec_a.error(), "");
  // Made last, so that no other helper holds a copy of its release pipe: it can leave first.
  std::optional<NetnsHolderProcess> first;
  first.emplace(s.Open("a").get());
  std::vector<pid_t> expected = {first->pid(), second.pid(), exec_a.pid()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ref::Pids(s.options, "a"), expected);
  EXPECT_EQ(ref::Pids(s.options, "b"), std::vector<pid_t>{in_b.pid()});
  // It agrees with /proc.
  struct stat target {};
  ASSERT_THAT(stat(s.Path("a").c_str(), &target), SyscallSucceeds());
  std::vector<pid_t> walked;
  for (const auto& entry : ref::ReadNames("/proc")) {
    if (entry.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st {};
    if (stat(("/proc/" + entry + "/ns/net").c_str(), &st) == 0 && st.st_ino == target.st_ino &&
        st.st_dev == target.st_dev)
      walked.push_back(std::stoi(entry));
  }
  std::sort(walked.begin(), walked.end());
  EXPECT_EQ(walked, expected);
  // A process that leaves is no longer listed.
  first.reset();
  EXPECT_THAT(ref::Pids(s.options, "a"), UnorderedElementsAre(second.pid(), exec_a.pid()));
  // The command prints one pid a line.
  CliResult cli = RunRefCommand(s, {"pids", "b"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_EQ(cli.out, std::to_string(in_b.pid()) + "\n");
}

NETNS_TEST(IpNetnsQuery, PidsOfAMissingNameFails, "sem.B8.5.pids-missing-name-fails") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  auto error = RefErrorOf([&] { ref::Pids(s.options, "nope"); });
  ASSERT_TRUE(error.has_value()) << "pids of a missing name succeeded";
  EXPECT_EQ(error->err(), ENOENT);
  EXPECT_EQ(error->exit_code(), 1);
  CliResult cli = RunRefCommand(s, {"pids", "nope"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_EQ(cli.out, "");
  // Control: an existing name without processes succeeds with no output.
  CliResult empty = RunRefCommand(s, {"pids", "a"});
  EXPECT_EQ(empty.exit_code, 0) << empty.Describe();
  EXPECT_EQ(empty.out, "");
}

// =====================================================================================
// exec
// =====================================================================================

NETNS_TEST(IpNetnsExec, ExecRunsInTheNamedNetnsWithItsSysfs, "ipnetns8.exec.runs-in-named-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  RouteClient().CreateVeth("ipn-run-b", "va", s.Open("a").get());  // ipn-run-b here, va in a
  ASSERT_EQ(access("/sys/class/net/ipn-run-b", F_OK), 0) << "control: this sysfs shows ipn-run-b";
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ref::SwitchInto(s.options, "a");
    ch.Note("netns", CurrentNetnsIdentity().ToString());
    ch.Record("access_va", access("/sys/class/net/va", F_OK));
    ch.Record("access_peer", access("/sys/class/net/ipn-run-b", F_OK));
    ch.Record("access_lo", access("/sys/class/net/lo", F_OK));
    ch.Note("netlink_va", RouteClient().GetLink("va") ? "yes" : "no");
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["netns"], s.Identity("a"));
  EXPECT_THAT(child.Call("access_va"), SyscallSucceeds()) << "/sys is not the named netns's";
  EXPECT_THAT(child.Call("access_peer"), SyscallFailsWithErrno(ENOENT)) << "the old /sys shows";
  EXPECT_THAT(child.Call("access_lo"), SyscallSucceeds());
  EXPECT_EQ(child.notes["netlink_va"], "yes");
  // A missing name: nothing runs.
  auto missing = RunInChild({}, [&](ChildChannel& ch) {
    ch.Record("switched", 0);
    ref::SwitchInto(s.options, "nope");
  });
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_THAT(missing.notes["exception"], HasSubstr("does not exist")) << missing.Describe();
}

NETNS_TEST(IpNetnsExec, ExecBindsEtcNetnsFilesOverEtc, "ipnetns8.exec.bind-mounts-etc-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  // An /etc file every system has; its per-netns version lives in /etc/netns/a/ (private to the
  // sandbox: a tmpfs on the host's /etc/netns, or an overlay over /etc where the host has none;
  // see Scratch::MakeEtcFolder for a sandbox whose /etc is read-only).
  const std::string entry = Exists("/etc/hosts") ? "hosts" : "passwd";
  const std::string original = ReadText("/etc/" + entry);
  const std::string ours = "# netns-conform: /etc/netns/a/" + entry + "\n";
  const std::string absent = "netns-conform-absent-" + std::to_string(getpid());
  ASSERT_FALSE(Exists("/etc/" + absent));
  const std::string dir = s.MakeEtcFolder("a");
  ASSERT_FALSE(dir.empty()) << "cannot make " << s.options.etc_dir << "/a: " << ErrnoName(errno);
  ASSERT_TRUE(WriteText(dir + "/" + entry, ours));
  ASSERT_TRUE(WriteText(dir + "/" + absent, "x\n"));

  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ref::Options options = s.options;
    options.warn = [&](const std::string& message) { ch.Note("warning", message); };
    ref::SwitchInto(options, "a");
    ch.Note("content", ReadText("/etc/" + entry) == ours ? "ours" : "other");
    ch.Record("absent", access(("/etc/" + absent).c_str(), F_OK));
    ch.Note("mounted", std::to_string(MountsAt("/etc/" + entry).size()));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["content"], "ours")
      << "the command does not see /etc/netns/a/" << entry << " at /etc/" << entry;
  EXPECT_EQ(child.notes["mounted"], "1");
  // An entry without an /etc target: a warning, and nothing is created in /etc.
  EXPECT_THAT(child.Call("absent"), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(child.notes["warning"], HasSubstr(absent));
  EXPECT_FALSE(Exists("/etc/" + absent));
  // Outside the command, /etc is untouched.
  EXPECT_EQ(ReadText("/etc/" + entry), original);
  EXPECT_THAT(MountsAt("/etc/" + entry), IsEmpty());
  // Control: a netns without an /etc/netns folder sees the global file.
  ref::Add(s.options, "b");
  auto plain = RunInChild({}, [&](ChildChannel& ch) {
    ref::SwitchInto(s.options, "b");
    ch.Note("same", ReadText("/etc/" + entry) == original ? "yes" : "no");
  });
  ASSERT_TRUE(plain.Ok()) << plain.Describe();
  EXPECT_EQ(plain.notes["same"], "yes");
}

NETNS_TEST(IpNetnsExec, ExecLeavesOtherProcessesAlone, "ipnetns8.exec.other-processes-unaffected",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  RouteClient().CreateVeth("ipn-oth-b", "va", s.Open("a").get());
  const std::string entry = Exists("/etc/hosts") ? "hosts" : "passwd";
  const std::string original = ReadText("/etc/" + entry);
  const std::string dir = s.MakeEtcFolder("a");
  ASSERT_FALSE(dir.empty()) << "cannot make " << s.options.etc_dir << "/a: " << ErrnoName(errno);
  ASSERT_TRUE(WriteText(dir + "/" + entry, "# netns a\n"));
  const std::string netns_before = CurrentNetnsIdentity().ToString();
  const auto sys_before = MountsAt("/sys");
  const std::string mnt_before = ReadText("/proc/self/mountinfo");

  SwitchedProcess command(s.options, "a");  // the command runs, and stays, in a
  ASSERT_EQ(command.error(), "");
  EXPECT_EQ(IdentityOf(ProcNet(command.pid())), s.Identity("a"));
  // This process: same netns, same /sys, same /etc, same mount table.
  EXPECT_EQ(CurrentNetnsIdentity().ToString(), netns_before);
  EXPECT_EQ(access("/sys/class/net/ipn-oth-b", F_OK), 0);
  EXPECT_NE(access("/sys/class/net/va", F_OK), 0);
  EXPECT_EQ(ReadText("/etc/" + entry), original);
  EXPECT_EQ(ReadText("/proc/self/mountinfo"), mnt_before) << "exec's mounts leaked out";
  // A process started now is not affected either.
  auto bystander = RunInChild({}, [&](ChildChannel& ch) {
    ch.Note("netns", CurrentNetnsIdentity().ToString());
    ch.Note("etc", ReadText("/etc/" + entry) == original ? "original" : "changed");
    ch.Record("access_peer", access("/sys/class/net/ipn-oth-b", F_OK));
  });
  ASSERT_TRUE(bystander.Ok()) << bystander.Describe();
  EXPECT_EQ(bystander.notes["netns"], netns_before);
  EXPECT_EQ(bystander.notes["etc"], "original");
  EXPECT_THAT(bystander.Call("access_peer"), SyscallSucceeds());
  // The command itself does see the changes (control), in a mount namespace of its own.
  const std::string theirs = "/proc/" + std::to_string(command.pid()) + "/mountinfo";
  bool sysfs_a = false;
  for (const auto& m : MountsAt("/sys", theirs))
    sysfs_a |= (m.fstype == "sysfs" && m.source == "a");
  EXPECT_TRUE(sysfs_a) << "the command has no sysfs of a on /sys";
  EXPECT_EQ(MountsAt("/etc/" + entry, theirs).size(), 1u);
  struct stat ours_mnt {
  }, their_mnt{};
  ASSERT_THAT(stat("/proc/self/ns/mnt", &ours_mnt), SyscallSucceeds());
  ASSERT_THAT(stat(("/proc/" + std::to_string(command.pid()) + "/ns/mnt").c_str(), &their_mnt),
              SyscallSucceeds());
  EXPECT_NE(ours_mnt.st_ino, their_mnt.st_ino) << "exec did not make a mount namespace";
}

NETNS_TEST(IpNetnsExec, ExecMountsSysfsOfTheNetnsInASlaveMountNamespace,
           "sem.B8.3.exec-mounts-netns-sysfs") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  // A shared mount of this (private) sandbox: exec's slave copy must receive from it, and give
  // nothing back.
  const std::string shared = "/tmp/ipn-shared-" + std::to_string(getpid());
  ASSERT_THAT(mkdir(shared.c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(mount("tmpfs", shared.c_str(), "tmpfs", 0, "size=64k"), SyscallSucceeds());
  Cleanup unmount([&] {
    umount2(shared.c_str(), MNT_DETACH);
    rmdir(shared.c_str());
  });
  ASSERT_THAT(mount("", shared.c_str(), nullptr, MS_SHARED, nullptr), SyscallSucceeds());
  ASSERT_THAT(mkdir((shared + "/sub").c_str(), 0755), SyscallSucceeds());
  const size_t sys_here = MountsAt("/sys").size();
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ref::SwitchInto(s.options, "a");
    const auto sys = MountsAt("/sys");
    ch.Note("sys_count", std::to_string(sys.size()));
    if (!sys.empty()) {
      ch.Note("sys_fstype", sys.back().fstype);
      ch.Note("sys_source", sys.back().source);
    }
    const auto tmp = MountsAt(shared);
    ch.Note("shared_fields", tmp.empty() ? "none" : tmp.back().optional_fields);
    // A mount made by the command must not come back to the caller.
    ch.Record("mount_sub", mount("tmpfs", (shared + "/sub").c_str(), "tmpfs", 0, "size=64k"));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  // The sandbox's /sys is a sysfs over the host's: exec detaches the top one and mounts its own,
  // so the command has as many mounts on /sys as the caller (one more if none was detached).
  EXPECT_EQ(child.notes["sys_count"], std::to_string(sys_here)) << "the old /sys was not detached";
  EXPECT_EQ(child.notes["sys_fstype"], "sysfs");
  EXPECT_EQ(child.notes["sys_source"], "a") << "mountinfo should read 'sysfs a'";
  EXPECT_THAT(child.notes["shared_fields"], HasSubstr("master:"))
      << "the command's mounts are not slaves of the caller's";
  EXPECT_THAT(child.notes["shared_fields"], ::testing::Not(HasSubstr("shared:")))
      << "slave, not shared";
  EXPECT_THAT(child.Call("mount_sub"), SyscallSucceeds());
  EXPECT_THAT(MountsAt(shared + "/sub"), IsEmpty()) << "a mount of the command propagated back";
  EXPECT_EQ(MountsAt("/sys").size(), sys_here) << "exec's sysfs reached the caller";
  EXPECT_THAT(MountsAt("/sys").back().source, ::testing::Ne("a"));
}

std::string InodeText(const std::string& path) {  // "net:[INO]", as readlink shows /proc/PID/ns/net
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return "net:[" + std::to_string(st.st_ino) + "]";
}

NETNS_TEST(IpNetnsExec, ExecExitStatusIsTheCommands, "sem.B8.3.exec-exit-status") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  CliResult seven = RunRefCommand(s, {"exec", "a", "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(seven.exit_code, 7) << seven.Describe();
  CliResult zero = RunRefCommand(s, {"exec", "a", "/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(zero.exit_code, 0) << zero.Describe();
  // In place: the command is the very process that ran exec (no fork), in the named netns.
  CliResult self =
      RunRefCommand(s, {"exec", "a", "/bin/sh", "-c", "echo $$; readlink /proc/self/ns/net"});
  EXPECT_EQ(self.exit_code, 0) << self.Describe();
  EXPECT_THAT(Lines(self.out), ElementsAre(std::to_string(self.pid), InodeText(s.Path("a"))))
      << self.Describe();
  // A missing netns: an error, and the command never runs (ip exits 255, the reference 1).
  CliResult missing = RunRefCommand(s, {"exec", "nope", "/bin/sh", "-c", "echo ran"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_EQ(missing.out, "") << missing.Describe();
  // No command: 1.
  CliResult no_command = RunRefCommand(s, {"exec", "a"});
  EXPECT_EQ(no_command.exit_code, 1) << no_command.Describe();
  EXPECT_THAT(no_command.err, HasSubstr("no command")) << no_command.Describe();
  // A command that cannot be run: ip exits 1; the reference 127 (not found) / 126 (not
  // executable), as env(1) and nsenter(1), so that it differs from a command exiting 1.
  CliResult not_found =
      RunRefCommand(s, {"exec", "a", "/nonexistent/netns-conform-" + std::to_string(getpid())});
  EXPECT_NE(not_found.exit_code, 0) << not_found.Describe();
  EXPECT_EQ(not_found.exit_code, 127) << not_found.Describe();
  CliResult not_executable = RunRefCommand(s, {"exec", "a", "/"});
  EXPECT_EQ(not_executable.exit_code, 126) << not_executable.Describe();
  // -all exec exits 0 even when every command fails.
  ref::Add(s.options, "b");
  CliResult all = RunRefCommand(s, {"-all", "exec", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(all.exit_code, 0) << all.Describe();
}

// -all exec's output: for each name "\nnetns: NAME\n", then the command's own output. Returns
// name -> the command's lines, and the order of the headers.
struct AllExecOutput {
  std::vector<std::string> headers;
  std::map<std::string, std::vector<std::string>> lines;
  bool blank_before_each_header = true;
};

AllExecOutput ParseAllExec(const std::string& out) {
  AllExecOutput parsed;
  const auto lines = Lines(out);
  std::string current;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("netns: ", 0) == 0) {
      current = lines[i].substr(7);
      parsed.headers.push_back(current);
      if (i == 0 || !lines[i - 1].empty()) parsed.blank_before_each_header = false;
    } else if (!lines[i].empty() || (i + 1 < lines.size() && lines[i + 1].rfind("netns: ", 0))) {
      parsed.lines[current].push_back(lines[i]);
    }
  }
  return parsed;
}

NETNS_TEST(IpNetnsExec, AllExecRunsInEveryNetnsEvenWhenTheCommandFails,
           "ipnetns8.exec.all-runs-in-every-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  for (const char* name : {"a", "b", "c"}) ref::Add(s.options, name);
  // The command prints the netns it runs in and fails in b only.
  const std::string fail_in = InodeText(s.Path("b"));
  const std::string script =
      "n=$(readlink /proc/self/ns/net); echo \"$n\"; [ \"$n\" != '" + fail_in + "' ]";
  CliResult cli = RunRefCommand(s, {"-all", "exec", "/bin/sh", "-c", script});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  AllExecOutput parsed = ParseAllExec(cli.out);
  EXPECT_THAT(parsed.headers, UnorderedElementsAre("a", "b", "c")) << cli.Describe();
  for (const char* name : {"a", "b", "c"})
    EXPECT_THAT(parsed.lines[name], ElementsAre(InodeText(s.Path(name))))
        << "the command did not run (once, synchronously) in " << name << ": " << cli.Describe();
  // The names in the order of the run folder, as list shows them; the caller's netns never.
  EXPECT_EQ(parsed.headers, ref::ReadNames(s.options.run_dir));
  EXPECT_THAT(cli.out, ::testing::Not(HasSubstr(InodeText("/proc/self/ns/net"))));
  // No names: nothing runs, still 0.
  Scratch empty;
  CliResult none = RunRefCommand(empty, {"-all", "exec", "/bin/sh", "-c", "echo ran"});
  EXPECT_EQ(none.exit_code, 0) << none.Describe();
  EXPECT_EQ(none.out, "") << none.Describe();
}

NETNS_TEST(IpNetnsExec, AllExecPrintsEachNameBeforeItsCommand, "ipnetns8.exec.all-prints-name") {
  REQUIRE_SANDBOX();
  Scratch s;
  for (const char* name : {"one", "two"}) ref::Add(s.options, name);
  CliResult cli = RunRefCommand(
      s, {"-all", "exec", "/bin/sh", "-c", "echo start; readlink /proc/self/ns/net; exit 1"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  AllExecOutput parsed = ParseAllExec(cli.out);
  EXPECT_THAT(parsed.headers, UnorderedElementsAre("one", "two")) << cli.Describe();
  EXPECT_TRUE(parsed.blank_before_each_header) << cli.Describe();
  for (const char* name : {"one", "two"})
    EXPECT_THAT(parsed.lines[name], ElementsAre("start", InodeText(s.Path(name))))
        << "the header of " << name
        << " is not right before its command's output: " << cli.Describe();
  EXPECT_THAT(cli.out, ::testing::StartsWith("\nnetns: ")) << cli.Describe();
  // A name whose command cannot even start is still announced.
  ref::Add(s.options, "three");
  CliResult missing_cmd = RunRefCommand(s, {"-all", "exec", "/nonexistent/netns-conform"});
  EXPECT_EQ(missing_cmd.exit_code, 0) << missing_cmd.Describe();
  EXPECT_THAT(ParseAllExec(missing_cmd.out).headers, UnorderedElementsAre("one", "two", "three"))
      << missing_cmd.Describe();
}

// =====================================================================================
// monitor
// =====================================================================================

std::string NextEvent(ref::Monitor& monitor) {
  auto event = monitor.Next(std::chrono::steady_clock::now() + kDeadline);
  return event ? event->ToString() : "(no event within the deadline)";
}

NETNS_TEST(IpNetnsMonitor, MonitorPrintsALinePerAddAndDelete,
           "ipnetns8.monitor.prints-add-and-delete") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Monitor monitor(s.options);  // makes the run folder, as ip does
  ref::Add(s.options, "a");
  EXPECT_EQ(NextEvent(monitor), "add a");
  NetnsHolderProcess other;
  ref::Attach(s.options, "b", other.pid());
  EXPECT_EQ(NextEvent(monitor), "add b");
  // A failed add changes nothing and prints nothing: the next line is the delete.
  EXPECT_TRUE(RefErrorOf([&] { ref::Add(s.options, "a"); }).has_value());
  ref::Delete(s.options, "a");
  EXPECT_EQ(NextEvent(monitor), "delete a");
  ref::Delete(s.options, "b");
  EXPECT_EQ(NextEvent(monitor), "delete b");
  ref::Add(s.options, "a");
  EXPECT_EQ(NextEvent(monitor), "add a") << "a name added again is reported again";
}

NETNS_TEST(IpNetnsMonitor, MonitorReportsDeletesOfNamesThatPredateIt,
           "ipnetns8.monitor.prints-add-and-delete") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "old");
  ref::Monitor monitor(s.options);
  // No line for what was there before: the first event is the one that happens next.
  ref::Delete(s.options, "old");
  EXPECT_EQ(NextEvent(monitor), "delete old");
  // Two monitors see the same events.
  ref::Monitor second(s.options);
  ref::Add(s.options, "new");
  EXPECT_EQ(NextEvent(monitor), "add new");
  EXPECT_EQ(NextEvent(second), "add new");
  // Another process's add (the command, forked) is seen as well.
  CliResult cli = RunRefCommand(s, {"add", "third"});
  ASSERT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_EQ(NextEvent(monitor), "add third");
}

}  // namespace
}  // namespace conform
