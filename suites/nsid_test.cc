// NSIDs: the ids one netns (the observer, the socket's netns) gives its peers (SEMANTICS.md §7),
// and the teardown order that makes RTM_DELNSID the earliest sign of a netns's death (§9, B9.1).
//
// Requests are built by hand where the fixture's client has no call for them, so that each
// attribute combination of the table in SEMANTICS.md reaches the kernel exactly as written.
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
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

namespace conform {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr auto kTeardownDeadline = seconds(10);

// The attributes of one RTM_NEWNSID reply or notification (all of them are 32-bit).
using NsidAttrs = std::map<uint16_t, int32_t>;

NsidAttrs ParseNsidAttrs(const nlmsghdr* nlh) {
  NsidAttrs attrs;
  ForEachAttr(nlh, sizeof(rtgenmsg), [&](const nlattr* attr) {
    if (mnl_attr_get_payload_len(attr) >= sizeof(uint32_t))
      attrs[mnl_attr_get_type(attr)] = static_cast<int32_t>(mnl_attr_get_u32(attr));
  });
  return attrs;
}

struct NsidOutcome {
  int err = 0;
  std::string extack;
  std::vector<NsidAttrs> replies;
};

SyscallResult AsCall(const NsidOutcome& outcome) {
  return outcome.err ? SyscallResult{-1, outcome.err} : SyscallResult{0, 0};
}

using AttrList = std::vector<std::pair<uint16_t, int32_t>>;

void FillNsidRequest(NetlinkRequest& req, const AttrList& attrs) {
  req.PutHeader<rtgenmsg>()->rtgen_family = AF_UNSPEC;
  for (const auto& [type, value] : attrs)
    mnl_attr_put_u32(req.nlh(), type, static_cast<uint32_t>(value));
}

// One RTM_NEWNSID / RTM_GETNSID request (a dump with NLM_F_DUMP) with exactly these attributes.
NsidOutcome NsidRequest(RouteClient& client, uint16_t type, const AttrList& attrs,
                        uint16_t flags = 0) {
  NetlinkRequest req(type, flags);
  FillNsidRequest(req, attrs);
  NsidOutcome outcome;
  try {
    client.Request(req, "nsid request", [&](const nlmsghdr* msg) {
      if (msg->nlmsg_type == RTM_NEWNSID) outcome.replies.push_back(ParseNsidAttrs(msg));
    });
  } catch (const NetlinkError& e) {
    outcome.err = e.err();
    outcome.extack = e.extack();
  }
  return outcome;
}

NsidOutcome GetNsidBy(RouteClient& client, const AttrList& attrs) {
  return NsidRequest(client, RTM_GETNSID, attrs);
}

// The single reply's attribute, or nullopt.
std::optional<int32_t> ReplyAttr(const NsidOutcome& outcome, uint16_t type) {
  if (outcome.replies.size() != 1) return std::nullopt;
  auto it = outcome.replies[0].find(type);
  if (it == outcome.replies[0].end()) return std::nullopt;
  return it->second;
}

// For a forked child, which records instead of asserting.
void RecordOutcome(ChildChannel& ch, const std::string& name, const NsidOutcome& outcome) {
  errno = outcome.err;
  ch.Record(name, outcome.err ? -1 : ReplyAttr(outcome, NETNSA_NSID).value_or(0));
}

int Fd(const FileDescriptor& fd) { return fd.get(); }

// =====================================================================================
// B7.1 RTM_NEWNSID
// =====================================================================================

constexpr const char* kNewidErrors = "sem.B7.1.newid-errors";

NETNS_TEST(Nsid, NewidWithoutNsidOrPeerIsEinval, kNewidErrors) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns();
  NetnsHolderProcess in_b(b.get());
  RouteClient client(observer.get());

  NsidOutcome no_nsid = NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}});
  EXPECT_THAT(AsCall(no_nsid), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(no_nsid.extack, "nsid is missing");
  NsidOutcome no_peer = NsidRequest(client, RTM_NEWNSID, {{NETNSA_NSID, 3}});
  EXPECT_THAT(AsCall(no_peer), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(no_peer.extack, "Peer netns reference is missing");
  EXPECT_THAT(client.DumpNsids(), IsEmpty()) << "a refused request assigned something";

  // Control: both given. With PID and FD together, the PID names the peer.
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 3}})),
              SyscallSucceeds());
  EXPECT_EQ(client.GetNsid(a.get()), 3);
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID,
                                 {{NETNSA_PID, in_b.pid()}, {NETNSA_FD, Fd(a)}, {NETNSA_NSID, 4}})),
              SyscallSucceeds());
  EXPECT_EQ(client.GetNsid(b.get()), 4) << "NETNSA_PID must win over NETNSA_FD";
  EXPECT_EQ(client.GetNsid(a.get()), 3);
}

NETNS_TEST(Nsid, SecondNsidOrTakenNsidIsEexist, kNewidErrors) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 1);

  NsidOutcome again = NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 2}});
  EXPECT_THAT(AsCall(again), SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(again.extack, "Peer netns already has a nsid assigned");
  EXPECT_EQ(client.GetNsid(a.get()), 1) << "an nsid cannot be changed once assigned";
  NsidOutcome auto_again =
      NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, -1}});
  EXPECT_THAT(AsCall(auto_again), SyscallFailsWithErrno(EEXIST)) << "not even to an allocated one";

  NsidOutcome taken = NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(b)}, {NETNSA_NSID, 1}});
  EXPECT_THAT(AsCall(taken), SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(taken.extack, "The specified nsid is already used");
  EXPECT_EQ(client.GetNsid(b.get()), -1);
  // Control: a free nsid for b.
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(b)}, {NETNSA_NSID, 2}})),
              SyscallSucceeds());
  EXPECT_THAT(client.DumpNsids(), ElementsAre(1, 2));
}

NETNS_TEST(Nsid, NewidWithoutCapNetAdminIsEperm, kNewidErrors) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns();
  RouteClient client(observer.get());  // opened by root; used by a child that is not
  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    RecordOutcome(ch, "newid",
                  NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 5}}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("newid"), SyscallFailsWithErrno(EPERM));
  EXPECT_EQ(client.GetNsid(a.get()), -1);
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 5}})),
              SyscallSucceeds())
      << "control: the same request with CAP_NET_ADMIN";
}

constexpr const char* kNewidAllocation = "sem.B7.1.newid-allocation";

NETNS_TEST(Nsid, NegativeNsidTakesLowestFree, kNewidAllocation) {
  FileDescriptor observer = CreateNetns();
  FileDescriptor a = CreateNetns(), b = CreateNetns(), c = CreateNetns(), d = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 0);
  client.SetNsid(b.get(), 2);
  client.SetNsid(c.get(), -1);
  EXPECT_EQ(client.GetNsid(c.get()), 1) << "the hole between 0 and 2";
  client.SetNsid(d.get(), -1);
  EXPECT_EQ(client.GetNsid(d.get()), 3);
  EXPECT_THAT(client.DumpNsids(), ElementsAre(0, 1, 2, 3));
}

NETNS_TEST(Nsid, NetnsMayNameItself, kNewidAllocation) {
  FileDescriptor observer = CreateNetns();
  RouteClient client(observer.get());
  EXPECT_EQ(client.GetNsid(observer.get()), -1);
  EXPECT_THAT(
      AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(observer)}, {NETNSA_NSID, 5}})),
      SyscallSucceeds());
  EXPECT_EQ(client.GetNsid(observer.get()), 5);
  EXPECT_THAT(client.DumpNsids(), ElementsAre(5));
  auto by_nsid = GetNsidBy(client, {{NETNSA_NSID, 5}});
  EXPECT_THAT(AsCall(by_nsid), SyscallSucceeds());
}

// =====================================================================================
// B7.2 RTM_GETNSID
// =====================================================================================

constexpr const char* kGetid = "sem.B7.2.getid";

NETNS_TEST(Nsid, GetByFdPidOrNsid, kGetid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns();
  NetnsHolderProcess in_a(a.get());
  RouteClient client(observer.get());
  auto unassigned = GetNsidBy(client, {{NETNSA_FD, Fd(a)}});
  ASSERT_THAT(AsCall(unassigned), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(unassigned, NETNSA_NSID), NETNSA_NSID_NOT_ASSIGNED);
  EXPECT_THAT(client.DumpNsids(), IsEmpty()) << "a GET must not allocate";

  client.SetNsid(a.get(), 9);
  EXPECT_EQ(ReplyAttr(GetNsidBy(client, {{NETNSA_FD, Fd(a)}}), NETNSA_NSID), 9);
  EXPECT_EQ(ReplyAttr(GetNsidBy(client, {{NETNSA_PID, in_a.pid()}}), NETNSA_NSID), 9);
  auto by_nsid = GetNsidBy(client, {{NETNSA_NSID, 9}});
  ASSERT_THAT(AsCall(by_nsid), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(by_nsid, NETNSA_NSID), 9);
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_NSID, 10}})), SyscallFailsWithErrno(ENOENT));
}

NETNS_TEST(Nsid, GetErrorsAndUnprivilegedGet, kGetid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 9);
  FileDescriptor regular(open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(regular.valid());
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_PID, ReapedPid()}})), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_FD, Fd(regular)}})), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_FD, ClosedFd()}})), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(AsCall(GetNsidBy(client, {})), SyscallFailsWithErrno(EINVAL)) << "no peer at all";

  // A GET needs no privilege.
  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    RecordOutcome(ch, "get", GetNsidBy(client, {{NETNSA_FD, Fd(a)}}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("get"), SyscallSucceedsWithValue(9));
}

constexpr const char* kTargetNsid = "sem.B7.2.target-nsid";

NETNS_TEST(Nsid, TargetNsidReportsTargetsViewAndOurs, kTargetNsid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), target = CreateNetns(),
                 blind = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 10);
  client.SetNsid(target.get(), 20);
  client.SetNsid(blind.get(), 30);
  RouteClient(target.get()).SetNsid(a.get(), 100);

  auto seen = GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 20}});
  ASSERT_THAT(AsCall(seen), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(seen, NETNSA_NSID), 100) << "A as seen from the target";
  EXPECT_EQ(ReplyAttr(seen, NETNSA_CURRENT_NSID), 10) << "A as seen by the caller";
  // A target that has no nsid for A says so; the caller's view is still given.
  auto unseen = GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 30}});
  ASSERT_THAT(AsCall(unseen), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(unseen, NETNSA_NSID), NETNSA_NSID_NOT_ASSIGNED);
  EXPECT_EQ(ReplyAttr(unseen, NETNSA_CURRENT_NSID), 10);
  // Control: without a target, no CURRENT_NSID.
  auto plain = GetNsidBy(client, {{NETNSA_FD, Fd(a)}});
  EXPECT_EQ(ReplyAttr(plain, NETNSA_NSID), 10);
  EXPECT_FALSE(ReplyAttr(plain, NETNSA_CURRENT_NSID).has_value());
}

NETNS_TEST(Nsid, TargetNsidUnknownEinvalUnprivilegedEacces, kTargetNsid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), target = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 10);
  client.SetNsid(target.get(), 20);
  auto unknown = GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 99}});
  EXPECT_THAT(AsCall(unknown), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(unknown.extack, "Target netns reference is invalid");

  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    RecordOutcome(ch, "with-target",
                  GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 20}}));
    RecordOutcome(ch, "without-target", GetNsidBy(client, {{NETNSA_FD, Fd(a)}}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("with-target"), SyscallFailsWithErrno(EACCES))
      << "no CAP_NET_ADMIN over the target netns";
  EXPECT_THAT(child.Call("without-target"), SyscallSucceedsWithValue(10)) << "control";
}

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

// =====================================================================================
// B7.4 notifications
// =====================================================================================

constexpr const char* kNewnsidNotification = "sem.B7.4.newnsid-notification";

NETNS_TEST(Nsid, ExplicitAssignmentAnnouncedInObserverOnly, kNewnsidNotification) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns();
  EventWatcher in_observer(observer.get(), {RTNLGRP_NSID}), in_a(a.get(), {RTNLGRP_NSID});
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 12);
  client.SetNsid(b.get(), -1);
  const int allocated = client.GetNsid(b.get());
  auto is_new = [](int nsid) {
    return [nsid](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == nsid; };
  };
  EXPECT_TRUE(in_observer.WaitNsid(is_new(12), kTeardownDeadline).has_value());
  EXPECT_TRUE(in_observer.WaitNsid(is_new(allocated), kTeardownDeadline).has_value())
      << "the announcement carries the allocated nsid " << allocated;
  // Notifications go out during the request: had A been told, it would be queued by now.
  EXPECT_FALSE(in_a.WaitNsid([](const NsidEvent&) { return true; }, milliseconds(0)).has_value())
      << "the peer netns was notified of the observer's assignment";
}

NETNS_TEST(Nsid, ImplicitAssignmentByDeviceMoveAnnounced, kNewnsidNotification,
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns(), peer = CreateNetns();
  RouteClient in_observer(observer.get()), in_peer(peer.get());
  in_observer.CreateVeth("va", "vb");  // both ends here: no nsid needed yet
  ASSERT_EQ(in_observer.GetNsid(peer.get()), -1);
  EventWatcher observer_watch(observer.get(), {RTNLGRP_NSID}),
      peer_watch(peer.get(), {RTNLGRP_NSID});

  in_observer.MoveToNetns(in_observer.GetLink("vb").value().ifindex, peer.get());

  const int observer_view = in_observer.GetNsid(peer.get());
  const int peer_view = in_peer.GetNsid(observer.get());
  ASSERT_GE(observer_view, 0) << "moving a veth end away must give the peer netns an nsid";
  ASSERT_GE(peer_view, 0);
  EXPECT_TRUE(
      observer_watch
          .WaitNsid(
              [&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == observer_view; },
              kTeardownDeadline)
          .has_value());
  EXPECT_TRUE(
      peer_watch
          .WaitNsid(
              [&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == peer_view; },
              kTeardownDeadline)
          .has_value());
}

NETNS_TEST(Nsid, DelnsidToEveryObserverThenEnoent, "sem.B7.4.delnsid-to-every-observer") {
  FileDescriptor first = CreateNetns(), second = CreateNetns(), doomed = CreateNetns(),
                 bystander = CreateNetns();
  RouteClient in_first(first.get()), in_second(second.get());
  in_first.SetNsid(doomed.get(), 3);
  in_first.SetNsid(bystander.get(), 4);
  in_second.SetNsid(doomed.get(), 8);
  EventWatcher first_watch(first.get(), {RTNLGRP_NSID}), second_watch(second.get(), {RTNLGRP_NSID});

  doomed.reset();

  auto first_del = first_watch.WaitNsid([](const NsidEvent& e) { return e.type == RTM_DELNSID; },
                                        kTeardownDeadline);
  auto second_del = second_watch.WaitNsid([](const NsidEvent& e) { return e.type == RTM_DELNSID; },
                                          kTeardownDeadline);
  ASSERT_TRUE(first_del.has_value()) << "no RTM_DELNSID in the first observer";
  ASSERT_TRUE(second_del.has_value()) << "no RTM_DELNSID in the second observer";
  EXPECT_EQ(first_del->nsid, 3) << "each observer is told its own nsid";
  EXPECT_EQ(second_del->nsid, 8);
  EXPECT_THAT(AsCall(GetNsidBy(in_first, {{NETNSA_NSID, 3}})), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(AsCall(GetNsidBy(in_second, {{NETNSA_NSID, 8}})), SyscallFailsWithErrno(ENOENT));
  // Control: the bystander's nsid is untouched.
  EXPECT_THAT(AsCall(GetNsidBy(in_first, {{NETNSA_NSID, 4}})), SyscallSucceeds());
  EXPECT_THAT(in_first.DumpNsids(), ElementsAre(4));
}

// =====================================================================================
// B9.1 teardown order
// =====================================================================================

NETNS_TEST(Teardown, DelnsidArrivesBeforeDellink, "sem.B9.1.delnsid-before-dellink",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns(), doomed = CreateNetns();
  RouteClient in_observer(observer.get());
  in_observer.SetNsid(doomed.get(), 6);
  RouteClient(doomed.get()).CreateVeth("va", "vb", observer.get());
  const int vb = in_observer.GetLink("vb").value().ifindex;
  // One socket for both groups: the kernel queues its messages in the order it sends them.
  EventWatcher watch(observer.get(), {RTNLGRP_LINK, RTNLGRP_NSID});

  doomed.reset();

  std::vector<std::string> order;
  std::optional<size_t> delnsid_at, dellink_at;
  std::vector<char> buf(32768);
  const auto deadline = std::chrono::steady_clock::now() + kTeardownDeadline;
  while (!(delnsid_at && dellink_at) && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{watch.fd(), POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t got = recv(watch.fd(), buf.data(), buf.size(), 0);
    ASSERT_GE(got, 0) << ErrnoName(errno);
    int left = static_cast<int>(got);
    for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, left);
         msg = mnl_nlmsg_next(msg, &left)) {
      if (msg->nlmsg_type == RTM_DELNSID) {
        order.push_back("DELNSID " + std::to_string(ParseNsidAttrs(msg)[NETNSA_NSID]));
        if (ParseNsidAttrs(msg)[NETNSA_NSID] == 6 && !delnsid_at) delnsid_at = order.size();
      } else if (msg->nlmsg_type == RTM_DELLINK || msg->nlmsg_type == RTM_NEWLINK) {
        LinkInfo link = ParseLink(msg);
        order.push_back((msg->nlmsg_type == RTM_DELLINK ? "DELLINK " : "NEWLINK ") + link.name);
        if (msg->nlmsg_type == RTM_DELLINK && link.ifindex == vb && !dellink_at)
          dellink_at = order.size();
      }
    }
  }
  std::string seen;
  for (const auto& e : order) seen += " [" + e + "]";
  ASSERT_TRUE(delnsid_at.has_value()) << "no RTM_DELNSID 6; seen:" << seen;
  ASSERT_TRUE(dellink_at.has_value()) << "no RTM_DELLINK of vb; seen:" << seen;
  EXPECT_LT(*delnsid_at, *dellink_at) << "order seen:" << seen;
}

}  // namespace
}  // namespace conform
