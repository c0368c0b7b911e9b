// A move into a netns where the device's name or one of its altnames is taken fails with EEXIST
// and leaves the device where it was, until it is renamed (in the move request itself, or by
// dropping the altname) (SEMANTICS.md B1.4; the other ways a move fails are in
// devices_moves_test.cc).
//
// Everything here lives in namespaces the case creates, with addresses from the documentation
// ranges (192.0.2.0/24, 198.51.100.0/24) only inside them. The cases that need a device the kernel
// refunds take it from fixtures/refund_device.h (a NIC lent with --spare-nic, or the VM's) and SKIP
// without one; the host's own devices are never touched. Shared helpers: suites/devices_helpers.h.

#include <arpa/inet.h>
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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/devices_helpers.h"

namespace conform {
namespace {

using namespace devices;  // what every device suite shares
using ::testing::UnorderedElementsAre;

// =====================================================================================
// SEMANTICS.md B1.4: how a move fails
// =====================================================================================

NETNS_TEST(DeviceMove, NameClashIsEexistUntilRenamed, "sem.B1.4.move-name-clash-eexist",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  in_a.CreateVeth("va", "vb");
  in_b.CreateVeth("va", "vx");
  const int va = in_a.GetLink("va").value().ifindex;
  NlOutcome outcome = TryMove(in_a, va, {.fd = b.get()});
  EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EEXIST));
  ExpectMoveExtack(outcome, "An interface with the same name exists in the target netns");
  EXPECT_TRUE(in_a.GetLink("va").has_value()) << "a failed move must leave the device in place";

  // The same move with a new name in the request works (ip link set va netns B name vc).
  ASSERT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get(), .new_name = "vc"})), SyscallSucceeds());
  EXPECT_FALSE(in_a.GetLink("va").has_value());
  EXPECT_THAT(LinkNames(b.get()), UnorderedElementsAre("lo", "va", "vx", "vc"));
}

NETNS_TEST(DeviceMove, AltnameClashIsEexist, "sem.B1.4.move-name-clash-eexist",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  in_a.CreateVeth("va", "vb");
  in_b.CreateVeth("taken", "tx");
  const int va = in_a.GetLink("va").value().ifindex;
  ChangeAltname(in_a, RTM_NEWLINKPROP, va, "taken");
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get()})), SyscallFailsWithErrno(EEXIST))
      << "va's altname is a device name in the target";
  EXPECT_TRUE(in_a.GetLink("va").has_value());
  // Control: without the clashing altname the move goes through.
  ChangeAltname(in_a, RTM_DELLINKPROP, va, "taken");
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get()})), SyscallSucceeds());
}

}  // namespace
}  // namespace conform
