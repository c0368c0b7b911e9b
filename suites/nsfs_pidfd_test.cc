// setns(2) with a pidfd (SEMANTICS.md B4.3): joins a task's namespaces at once, the flags it
// refuses, ESRCH once the task is gone (pidfd setns arrived in v5.8, probed).
//
// Features that arrived in a given release are probed by trying them; without them the cases SKIP
// and say which is missing. Shared helpers: suites/nsfs_helpers.h.

#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nsfs_helpers.h"

namespace conform {
namespace {

using namespace nsfs;  // what every nsfs suite shares

FileDescriptor PidfdOpen(pid_t pid) {
  FileDescriptor fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) throw SystemError("pidfd_open", errno);
  return fd;
}

std::string Hostname() {
  utsname uts{};
  uname(&uts);
  return uts.nodename;
}
// =====================================================================================
// B4.3 setns through a pidfd
// =====================================================================================

constexpr const char* kPidfdClause = "sem.B4.3.pidfd-setns";

constexpr const char* kNoPidfdSetns =
    "kernel lacks setns() on a pidfd (probed: EINVAL for a pidfd, as before 303cc571d107, v5.8)";

NETNS_TEST(PidfdSetns, JoinsTheTasksNamespacesAtOnce, kPidfdClause) {
  // Gate: 303cc571d107 "nsproxy: attach to namespaces via pidfds" (v5.8).
  if (!HasPidfdSetns()) GTEST_SKIP() << kNoPidfdSetns;
  NsHolder holder(CLONE_NEWUTS, "nc-pidfd-host");
  const NetnsIdentity target =
      IdentifyNetns(OpenPath("/proc/" + std::to_string(holder.pid()) + "/ns/net").get());
  FileDescriptor pidfd = PidfdOpen(holder.pid());
  const std::string my_host = Hostname();
  ASSERT_NE(my_host, "nc-pidfd-host");

  struct Seen {
    long rc = -1;
    int err = 0;
    NetnsIdentity net;
    std::string host;
  };
  auto join = [&](int flags) {
    Seen seen;
    RunInNetns(OpenCurrentNetns().get(), [&] {
      seen.rc = setns(pidfd.get(), flags);
      seen.err = errno;
      seen.net = CurrentNetnsIdentity();
      seen.host = Hostname();
      // The helper thread dies with whatever it joined; its UTS change stays with it.
    });
    return seen;
  };

  Seen net_only = join(CLONE_NEWNET);
  ASSERT_THAT((SyscallResult{net_only.rc, net_only.err}), SyscallSucceeds());
  EXPECT_EQ(net_only.net, target);
  EXPECT_EQ(net_only.host, my_host) << "CLONE_NEWNET alone must not switch the UTS namespace";

  Seen both = join(CLONE_NEWNET | CLONE_NEWUTS);
  ASSERT_THAT((SyscallResult{both.rc, both.err}), SyscallSucceeds());
  EXPECT_EQ(both.net, target);
  EXPECT_EQ(both.host, "nc-pidfd-host");
  EXPECT_EQ(Hostname(), my_host) << "the calling thread must not have moved";
}

NETNS_TEST(PidfdSetns, BadFlagsEinvalDeadTaskEsrch, kPidfdClause) {
  // Gate: 303cc571d107 "nsproxy: attach to namespaces via pidfds" (v5.8).
  if (!HasPidfdSetns()) GTEST_SKIP() << kNoPidfdSetns;
  NsHolder holder(0, "");
  FileDescriptor pidfd = PidfdOpen(holder.pid());
  RunInNetns(OpenCurrentNetns().get(), [&] {
    EXPECT_THAT(setns(pidfd.get(), 0), SyscallFailsWithErrno(EINVAL)) << "flags 0";
    EXPECT_THAT(setns(pidfd.get(), CLONE_NEWNET | CLONE_VM), SyscallFailsWithErrno(EINVAL))
        << "a non-namespace clone flag";
    EXPECT_THAT(setns(pidfd.get(), CLONE_NEWNET | 0x1), SyscallFailsWithErrno(EINVAL))
        << "an unknown bit";
    // Control: the same pidfd with a valid flag works while the task lives.
    EXPECT_THAT(setns(pidfd.get(), CLONE_NEWNET), SyscallSucceeds());
  });
  holder.Release();  // exited and reaped
  RunInNetns(OpenCurrentNetns().get(),
             [&] { EXPECT_THAT(setns(pidfd.get(), CLONE_NEWNET), SyscallFailsWithErrno(ESRCH)); });
}

}  // namespace
}  // namespace conform
