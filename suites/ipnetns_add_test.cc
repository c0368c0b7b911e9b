// ip-netns(8), SEMANTICS.md §8. What a name is and how it is made: the DESCRIPTION's
// named netns (an nsfs object in /var/run/netns that can be opened and given to setns), `add`
// and `attach` (a bind mount of a new netns, or of a process's, in the shared run folder) and
// what add refuses (ipnetns8.named.*, ipnetns8.add.*, sem.B8.1).
// Exercised through the reference implementation (fixtures/ref, conform::ref) and raw syscalls,
// so that each case shows the kernel supports the convention it names. The sandbox these cases
// need and the helpers they share: suites/ipnetns_helpers.h.

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
#include "fixtures/mountinfo.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/syscall_matchers.h"
#include "suites/ipnetns_helpers.h"

namespace conform {
namespace {

using namespace ipnetns;  // the helpers every ip-netns(8) suite shares

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

}  // namespace
}  // namespace conform
