// ip-netns(8), SEMANTICS.md §8. `monitor`: a line for every add and delete in the run
// folder, by this process or another (ipnetns8.monitor.*).
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
#include "fixtures/ref/ref_monitor.h"
#include "fixtures/ref/ref_netns.h"
#include "suites/ipnetns_helpers.h"

namespace conform {
namespace {

using namespace ipnetns;  // the helpers every ip-netns(8) suite shares

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
