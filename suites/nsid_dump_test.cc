// RTM_GETNSID dumps (SEMANTICS.md B7.3): every nsid listed once; a strict-checking socket accepts
// only NETNSA_TARGET_NSID in a dump request.
//
// Requests are built by hand where the fixture's client has no call for them
// (suites/nsid_helpers.h).

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nsid_helpers.h"

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

namespace conform {
namespace {

using namespace nsid;  // what every nsid suite shares
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// =====================================================================================
// B7.3 dumps
// =====================================================================================

NETNS_TEST(Nsid, DumpListsEveryNsidOnce, "sem.B7.3.dump-lists-nsids") {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns(), c = CreateNetns();
  RouteClient client(observer.get());
  auto empty = NsidRequest(client, RTM_GETNSID, {}, NLM_F_DUMP);
  ASSERT_THAT(AsCall(empty), SyscallSucceeds());
  EXPECT_THAT(empty.replies, IsEmpty());

  client.SetNsid(a.get(), 0);
  client.SetNsid(b.get(), 5);
  client.SetNsid(c.get(), 7);
  auto dump = NsidRequest(client, RTM_GETNSID, {}, NLM_F_DUMP);
  ASSERT_THAT(AsCall(dump), SyscallSucceeds());
  std::vector<int32_t> listed;
  for (const auto& reply : dump.replies) listed.push_back(reply.at(NETNSA_NSID));
  std::sort(listed.begin(), listed.end());
  EXPECT_THAT(listed, ElementsAre(0, 5, 7)) << "one RTM_NEWNSID per nsid";
  // Another netns's dump is its own: a has no nsids.
  EXPECT_THAT(RouteClient(a.get()).DumpNsids(), IsEmpty());
}

// Reads the replies to one dump request by hand: (message type, error in NLMSG_DONE, extack).
struct RawDump {
  std::vector<uint16_t> types;
  int done_error = 0;
  std::string done_extack;
  std::vector<NsidAttrs> entries;
};

RawDump DumpNsidsRaw(int sock, const AttrList& attrs) {
  NetlinkRequest req(RTM_GETNSID, NLM_F_DUMP);
  FillNsidRequest(req, attrs);
  req.nlh()->nlmsg_seq = 4711;
  CheckSyscall(send(sock, req.nlh(), req.nlh()->nlmsg_len, 0), "send dump");
  RawDump dump;
  std::vector<char> buf(32768);
  for (;;) {
    pollfd pfd{sock, POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) throw SystemError("no dump reply within 10 s", ETIMEDOUT);
    ssize_t got = recv(sock, buf.data(), buf.size(), 0);
    if (got < 0) throw SystemError("recv", errno);
    int left = static_cast<int>(got);
    for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, left);
         msg = mnl_nlmsg_next(msg, &left)) {
      if (msg->nlmsg_seq != 4711) continue;
      dump.types.push_back(msg->nlmsg_type);
      if (msg->nlmsg_type == RTM_NEWNSID) dump.entries.push_back(ParseNsidAttrs(msg));
      if (msg->nlmsg_type == NLMSG_ERROR) {
        dump.done_error = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(msg))->error;
        return dump;
      }
      if (msg->nlmsg_type == NLMSG_DONE) {
        dump.done_error = -*static_cast<const int*>(mnl_nlmsg_get_payload(msg));
        if (msg->nlmsg_flags & NLM_F_ACK_TLVS) {
          ForEachAttr(msg, sizeof(int), [&](const nlattr* attr) {
            if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
              dump.done_extack = mnl_attr_get_str(attr);
          });
        }
        return dump;
      }
    }
  }
}

// A plain NETLINK_ROUTE socket in a netns, with or without strict checking of GET requests.
FileDescriptor RouteSocketIn(int netns_fd, bool strict) {
  FileDescriptor sock;
  RunInNetns(netns_fd,
             [&] { sock.reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)); });
  if (!sock) throw SystemError("socket(NETLINK_ROUTE)", errno);
  int one = 1;
  CheckSyscall(setsockopt(sock.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)),
               "NETLINK_EXT_ACK");
  if (strict) {
    CheckSyscall(setsockopt(sock.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)),
                 "NETLINK_GET_STRICT_CHK");
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  CheckSyscall(bind(sock.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), "bind");
  return sock;
}

NETNS_TEST(Nsid, StrictDumpAcceptsOnlyTargetNsid, "sem.B7.3.strict-dump-rejects-attributes") {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), target = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 1);
  client.SetNsid(target.get(), 2);
  RouteClient(target.get()).SetNsid(a.get(), 40);
  FileDescriptor strict = RouteSocketIn(observer.get(), true);

  RawDump rejected = DumpNsidsRaw(strict.get(), {{NETNSA_NSID, 1}});
  EXPECT_EQ(ErrnoName(rejected.done_error), ErrnoName(EINVAL));
  EXPECT_THAT(rejected.types, ElementsAre(NLMSG_DONE)) << "the error comes in NLMSG_DONE";
  EXPECT_EQ(rejected.done_extack, "Unsupported attribute in dump request");
  EXPECT_EQ(ErrnoName(DumpNsidsRaw(strict.get(), {{NETNSA_FD, Fd(a)}}).done_error),
            ErrnoName(EINVAL));

  // Control: TARGET_NSID is accepted and lists the target's nsids, each with the caller's view.
  RawDump targeted = DumpNsidsRaw(strict.get(), {{NETNSA_TARGET_NSID, 2}});
  EXPECT_EQ(targeted.done_error, 0) << ErrnoName(targeted.done_error) << targeted.done_extack;
  ASSERT_EQ(targeted.entries.size(), 1u);
  EXPECT_EQ(targeted.entries[0].at(NETNSA_NSID), 40);
  EXPECT_EQ(targeted.entries[0].at(NETNSA_CURRENT_NSID), 1);
  // Control: without strict checking the same attribute is ignored and the dump succeeds.
  FileDescriptor lax = RouteSocketIn(observer.get(), false);
  RawDump ignored = DumpNsidsRaw(lax.get(), {{NETNSA_NSID, 1}});
  EXPECT_EQ(ignored.done_error, 0) << ErrnoName(ignored.done_error);
  EXPECT_EQ(ignored.entries.size(), 2u);
}

}  // namespace
}  // namespace conform
