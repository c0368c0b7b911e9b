// network_namespaces(7): network devices are isolated. A device is seen and configured only in
// its own netns, by name and by ifindex; the same name and ifindex may stand for two devices in two
// netns, each with its own state.
//
// Everything here lives in namespaces the case creates, with addresses from the documentation
// ranges (192.0.2.0/24, 198.51.100.0/24) only inside them. The cases that need a device the kernel
// refunds take it from fixtures/refund_device.h (a NIC lent with --spare-nic, or the VM's) and SKIP
// without one; the host's own devices are never touched. Shared helpers: suites/devices_helpers.h.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
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
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/proc_text.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/devices_helpers.h"

namespace conform {
namespace {

using namespace devices;  // what every device suite shares
using ::testing::UnorderedElementsAre;

// =====================================================================================
// network_namespaces(7): isolation of network devices
// =====================================================================================

constexpr const char* kIsolationClause = "netns7.isolation.network-devices";

// (Lifecycle.DevicesBelongToOneNetnsEach below has the visibility and configuration side of this
// clause; this case adds that ifindexes, not only names, are per netns.)
NETNS_TEST(DeviceIsolation, SameNameAndIfindexInTwoNetns, kIsolationClause,
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  constexpr int kIndex = 4242, kPeerIndex = 4243;
  CreateVethAt(in_a, "dup0", kIndex, "dup1", kPeerIndex);
  // Control: the same name or ifindex twice in one netns is refused.
  EXPECT_THAT(AsCall(TryNetlink([&] { CreateVethAt(in_a, "dup0", 0, "other1", 0); })),
              SyscallFailsWithErrno(EEXIST));
  EXPECT_NE(AsCall(TryNetlink([&] { CreateVethAt(in_a, "other0", kIndex, "other1", 0); })).rc, 0)
      << "a second device took ifindex " << kIndex << " in the same netns";

  ASSERT_THAT(AsCall(TryNetlink([&] { CreateVethAt(in_b, "dup0", kIndex, "dup1", kPeerIndex); })),
              SyscallSucceeds())
      << "the same names and ifindexes must be free in another netns";
  auto in_a_dup = GetDetails(in_a, kIndex), in_b_dup = GetDetails(in_b, kIndex);
  ASSERT_TRUE(in_a_dup && in_b_dup);
  EXPECT_EQ(in_a_dup->name, "dup0");
  EXPECT_EQ(in_b_dup->name, "dup0");
  EXPECT_NE(in_a_dup->mac, in_b_dup->mac) << "two devices, not one seen twice";
  in_b.SetUp(kIndex, true);
  EXPECT_TRUE(in_b.GetLink(kIndex)->IsUp());
  EXPECT_FALSE(in_a.GetLink(kIndex)->IsUp()) << "configuring B's dup0 changed A's";
}

NETNS_TEST(Lifecycle, DevicesBelongToOneNetnsEach, "netns7.isolation.network-devices",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient rc_a(a.get()), rc_b(b.get());
  rc_a.CreateVeth("va", "vb");
  auto va = rc_a.GetLink("va");
  ASSERT_TRUE(va.has_value()) << "control: A sees its own device";
  EXPECT_FALSE(rc_b.GetLink("va").has_value()) << "B must not see A's device by name";
  EXPECT_FALSE(rc_b.GetLink(va->ifindex).has_value()) << "nor by A's ifindex";
  try {
    rc_b.SetUp(va->ifindex, true);
    ADD_FAILURE() << "B configured ifindex " << va->ifindex << ", which is A's device";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.err(), ENODEV) << e.what();
  }
  EXPECT_FALSE(rc_a.GetLink("va")->IsUp());

  // B's own device of the same name is a different device with its own state.
  rc_b.CreateVeth("va", "vb");
  auto va_b = rc_b.GetLink("va");
  ASSERT_TRUE(va_b.has_value());
  rc_b.SetUp(va_b->ifindex, true);
  EXPECT_TRUE(rc_b.GetLink("va")->IsUp());
  EXPECT_FALSE(rc_a.GetLink("va")->IsUp()) << "setting B's va up changed A's va";
  std::vector<std::string> names_a;
  for (const auto& link : rc_a.DumpLinks()) names_a.push_back(link.name);
  EXPECT_THAT(names_a, UnorderedElementsAre("lo", "va", "vb"));
}

}  // namespace
}  // namespace conform
