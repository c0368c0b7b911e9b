// SEMANTICS.md B5.3: a netns's charge against user.max_net_namespaces is released when its
// teardown finishes (not when its last reference goes).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/proc_text.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using std::chrono::seconds;

constexpr auto kTeardownDeadline = seconds(10);

// ---------------------------------------------------------------------------------------------
// B5.3: the quota charge is given back once teardown is over

NETNS_TEST(Lifecycle, QuotaReleasedAfterTeardown, "sem.B5.3.quota-released-after-teardown",
           .kconfigs = {"CONFIG_VETH", "CONFIG_USER_NS"}) {
  // As nobody in a user namespace of its own, whose user.max_net_namespaces (that user
  // namespace's, never the host's) is set to 2: an observer and a doomed netns fill it.
  auto child = RunInChild(
      {.uid = kNobodyUid, .new_user_ns = true, .timeout = std::chrono::milliseconds(30000)},
      [](ChildChannel& ch) {
        auto try_create = []() -> long {
          try {
            FileDescriptor fd = CreateNetns();
            return 0;
          } catch (const SystemError& e) {
            errno = e.err();
            return -1;
          }
        };
        {
          FileDescriptor limit(open("/proc/sys/user/max_net_namespaces", O_WRONLY | O_CLOEXEC));
          ch.Record("limit", limit ? write(limit.get(), "2", 1) : -1);
        }
        FileDescriptor observer = CreateNetns();
        FileDescriptor doomed = CreateNetns();
        ch.Record("third-at-limit", try_create());
        RouteClient(doomed.get()).CreateVeth("va", "vb", observer.get());
        const int vb = RouteClient(observer.get()).GetLink("vb")->ifindex;
        EventWatcher watcher(observer.get(), {RTNLGRP_LINK});
        doomed.reset();  // the only reference: teardown starts
        const bool torn_down = watcher.WaitLinkDeleted(vb, kTeardownDeadline);
        ch.Note("torn-down", torn_down ? "yes" : "no");
        // The charge is dropped at the very end of cleanup_net (after rcu_barrier), later than
        // the RTM_DELLINK above and with no event of its own: retry every millisecond, bounded by
        // a deadline (a spin would take a core from the case beside it for the whole wait).
        const auto deadline = std::chrono::steady_clock::now() + kTeardownDeadline;
        long rc = -1;
        int attempts = 0;
        do {
          ++attempts;
          rc = try_create();
          if (rc == 0 || errno != ENOSPC) break;
          poll(nullptr, 0, 1);
        } while (torn_down && std::chrono::steady_clock::now() < deadline);
        ch.Record("after-teardown", rc);
        ch.Note("attempts", std::to_string(attempts));
      });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("limit"), SyscallSucceeds());
  EXPECT_THAT(child.Call("third-at-limit"), SyscallFailsWithErrno(ENOSPC))
      << "control: two live netns fill a limit of 2";
  ASSERT_EQ(child.notes["torn-down"], "yes") << "no RTM_DELLINK from the doomed netns";
  EXPECT_THAT(child.Call("after-teardown"), SyscallSucceeds())
      << "after teardown the freed netns must no longer count; " << child.Describe();
  ::testing::Test::RecordProperty("attempts_after_dellink", child.notes["attempts"]);
}

}  // namespace
}  // namespace conform
