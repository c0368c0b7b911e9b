// Unit tests of RouteClient and NetlinkError (fixtures/netlink.h): every call runs against
// throwaway network namespaces that the test creates, so nothing here can touch the host's
// devices or settings.
#include <fcntl.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/fd.h"
#include "fixtures/netlink.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/netlink_test_support.h"

namespace conform {
namespace {

TEST(NetlinkErrorTest, WhatCarriesErrnoNameAndExtack) {
  EXPECT_STREQ(NetlinkError("move x", EEXIST, "Name taken").what(),
               "move x: EEXIST (File exists): Name taken");
  NetlinkError plain("op", EINVAL, "");
  EXPECT_STREQ(plain.what(), "op: EINVAL (Invalid argument)");
  EXPECT_EQ(plain.err(), EINVAL);
  EXPECT_EQ(plain.extack(), "");
}

TEST(RouteClientTest, FreshNetnsHasOnlyLoDown) {
  FileDescriptor ns = NewNetns();
  RouteClient client(ns.get());
  std::vector<LinkInfo> links = client.DumpLinks();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].name, "lo");
  EXPECT_EQ(links[0].ifindex, 1);
  EXPECT_FALSE(links[0].IsUp()) << links[0];
  EXPECT_EQ(links[0].kind, "");
  EXPECT_FALSE(links[0].link.has_value());
  EXPECT_NE(links[0].netns_immutable, false);  // true where the kernel reports it (6.14+)
}

TEST(RouteClientTest, RejectsBadNetnsFd) {
  try {
    RouteClient client(-1);
    ADD_FAILURE() << "RouteClient(-1) must not fall back to the current netns";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EBADF) << e.what();
  }
  FileDescriptor not_ns(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(not_ns.valid());
  try {
    RouteClient client(not_ns.get());
    ADD_FAILURE() << "a non-netns fd was accepted";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EINVAL) << e.what();
  }
}

// The default constructor binds the socket to the thread's netns, and it stays there after the
// thread is gone.
TEST(RouteClientTest, DefaultConstructorUsesTheThreadsNetns) {
  std::optional<RouteClient> client;
  FileDescriptor ns;
  RunInNewThread([&] {
    CheckSyscall(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
    ns = OpenThreadNetns();
    client.emplace();
  });
  client->CreateVeth("here0", "here1");
  RouteClient check(ns.get());
  EXPECT_TRUE(check.GetLink("here0").has_value());
  EXPECT_TRUE(check.GetLink("here1").has_value());
}

TEST(RouteClientTest, GetLinkByNameAndIndex) {
  FileDescriptor ns = NewNetns();
  RouteClient client(ns.get());
  std::optional<LinkInfo> by_name = client.GetLink("lo");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_EQ(by_name->ifindex, 1);
  std::optional<LinkInfo> by_index = client.GetLink(1);
  ASSERT_TRUE(by_index.has_value());
  EXPECT_EQ(by_index->name, "lo");
  EXPECT_FALSE(client.GetLink("nosuchdev").has_value());
  EXPECT_FALSE(client.GetLink(4242).has_value());
}

TEST(RouteClientTest, VethWithPeerInAnotherNetns) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  RouteClient cb(b.get());
  ca.CreateVeth("va", "vb", b.get());

  EXPECT_THAT(Names(ca.DumpLinks()), UnorderedElementsAre("lo", "va"));
  EXPECT_THAT(Names(cb.DumpLinks()), UnorderedElementsAre("lo", "vb"));
  std::optional<LinkInfo> va = ca.GetLink("va");
  std::optional<LinkInfo> vb = cb.GetLink("vb");
  ASSERT_TRUE(va && vb);
  EXPECT_EQ(va->kind, "veth");
  EXPECT_EQ(vb->kind, "veth");
  EXPECT_EQ(va->link, vb->ifindex) << *va;
  EXPECT_EQ(vb->link, va->ifindex) << *vb;
  // Reporting IFLA_LINK_NETNSID allocated an nsid for the peer netns (SEMANTICS.md B2.4).
  ASSERT_TRUE(va->link_netnsid.has_value()) << *va;
  EXPECT_EQ(*va->link_netnsid, ca.GetNsid(b.get()));
  EXPECT_NE(va->netns_immutable, true);
}

TEST(RouteClientTest, VethBothEndsElsewhere) {
  FileDescriptor x = NewNetns();
  FileDescriptor y = NewNetns();
  FileDescriptor z = NewNetns();
  RouteClient cz(z.get());
  cz.CreateVeth("va", "vb", /*peer_netns_fd=*/y.get(), /*self_netns_fd=*/x.get());
  EXPECT_THAT(Names(cz.DumpLinks()), ElementsAre("lo"));
  EXPECT_THAT(Names(RouteClient(x.get()).DumpLinks()), UnorderedElementsAre("lo", "va"));
  EXPECT_THAT(Names(RouteClient(y.get()).DumpLinks()), UnorderedElementsAre("lo", "vb"));
}

TEST(RouteClientTest, SetUpAndAddresses) {
  FileDescriptor ns = NewNetns();
  RouteClient client(ns.get());
  client.SetUp(1, true);
  EXPECT_TRUE(client.GetLink(1)->IsUp());
  std::vector<std::string> lo_addresses = client.DumpAddresses(1);
  EXPECT_THAT(lo_addresses, Contains("127.0.0.1/8"));
  EXPECT_THAT(lo_addresses, Contains("::1/128"));

  client.CreateVeth("va", "vb");
  int va = IndexOf(client, "va");
  EXPECT_THAT(client.DumpAddresses(va), IsEmpty());
  client.AddAddress4(va, "192.0.2.1/24");
  EXPECT_THAT(client.DumpAddresses(va), ElementsAre("192.0.2.1/24"));
  EXPECT_THAT(client.DumpAddresses(1), Not(Contains("192.0.2.1/24")));
  auto again = NetlinkErrorOf([&] { client.AddAddress4(va, "192.0.2.1/24"); });
  ASSERT_TRUE(again);
  EXPECT_EQ(again->err(), EEXIST) << again->what();
  EXPECT_THROW(client.AddAddress4(va, "192.0.2.1"), std::invalid_argument);
  EXPECT_THROW(client.AddAddress4(va, "192.0.2.1/33"), std::invalid_argument);
  EXPECT_THROW(client.AddAddress4(va, "::1/64"), std::invalid_argument);

  client.SetUp(1, false);
  EXPECT_FALSE(client.GetLink(1)->IsUp());
}

TEST(RouteClientTest, RenameAndDelete) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  ca.CreateVeth("va", "vb", b.get());
  int va = IndexOf(ca, "va");
  ca.Rename(va, "renamed");
  EXPECT_FALSE(ca.GetLink("va").has_value());
  EXPECT_EQ(IndexOf(ca, "renamed"), va);

  ca.DeleteLink(va);
  EXPECT_FALSE(ca.GetLink(va).has_value());
  // Deleting one end deletes the pair, synchronously, even across netns.
  EXPECT_FALSE(RouteClient(b.get()).GetLink("vb").has_value());
  auto gone = NetlinkErrorOf([&] { ca.DeleteLink(va); });
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->err(), ENODEV) << gone->what();
}

TEST(RouteClientTest, MoveByFdAndRenameOnMove) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  RouteClient cb(b.get());
  ca.CreateVeth("va", "vb");
  ca.MoveToNetns(IndexOf(ca, "va"), b.get());
  EXPECT_FALSE(ca.GetLink("va").has_value());
  ASSERT_TRUE(cb.GetLink("va").has_value());

  cb.MoveToNetns(IndexOf(cb, "va"), a.get(), "back0");
  EXPECT_FALSE(cb.GetLink("va").has_value());
  std::optional<LinkInfo> back = ca.GetLink("back0");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->link, IndexOf(ca, "vb"));  // the pair is together again
}

TEST(RouteClientTest, MoveByPid) {
  FileDescriptor a = NewNetns();
  NetnsThread target;
  RouteClient ca(a.get());
  ca.CreateVeth("va", "vb");
  ca.MoveToNetnsByPid(IndexOf(ca, "va"), target.tid());
  EXPECT_FALSE(ca.GetLink("va").has_value());
  EXPECT_TRUE(RouteClient(target.netns_fd()).GetLink("va").has_value());
}

TEST(RouteClientTest, MoveIntoNameClashIsEexistWithExtack) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  RouteClient cb(b.get());
  ca.CreateVeth("va", "vb");
  cb.CreateVeth("va", "vc");
  int va = IndexOf(ca, "va");
  auto clash = NetlinkErrorOf([&] { ca.MoveToNetns(va, b.get()); });
  ASSERT_TRUE(clash);
  EXPECT_EQ(clash->err(), EEXIST);
  EXPECT_EQ(clash->extack(), "An interface with the same name exists in the target netns");
  EXPECT_THAT(clash->what(),
              HasSubstr("EEXIST (File exists): An interface with the same name exists"));
  EXPECT_TRUE(ca.GetLink("va").has_value());

  ca.MoveToNetns(va, b.get(), "va2");  // the fix: rename in the same message
  EXPECT_TRUE(cb.GetLink("va2").has_value());
}

TEST(RouteClientTest, ImmutableDevicesCannotMove) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  ca.CreateBridge("br0");
  std::optional<LinkInfo> br = ca.GetLink("br0");
  ASSERT_TRUE(br.has_value());
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_NE(br->netns_immutable, false);

  for (int ifindex : {1, br->ifindex}) {
    auto error = NetlinkErrorOf([&] { ca.MoveToNetns(ifindex, b.get()); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->err(), EINVAL) << error->what();
    EXPECT_THAT(error->extack(), AnyOf(IsEmpty(), Eq("The interface netns is immutable")));
  }
  EXPECT_THAT(Names(RouteClient(b.get()).DumpLinks()), ElementsAre("lo"));
}

TEST(RouteClientTest, MacvlanAndVxlan) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  ca.CreateVeth("va", "vb");
  int va = IndexOf(ca, "va");
  ca.CreateMacvlan("mv0", va);
  std::optional<LinkInfo> mv = ca.GetLink("mv0");
  ASSERT_TRUE(mv.has_value());
  EXPECT_EQ(mv->kind, "macvlan");
  EXPECT_EQ(mv->link, va);

  ca.CreateVxlan("vx0", 42, std::nullopt);
  std::optional<LinkInfo> vx0 = ca.GetLink("vx0");
  ASSERT_TRUE(vx0.has_value());
  EXPECT_EQ(vx0->kind, "vxlan");
  EXPECT_FALSE(vx0->link_netnsid.has_value()) << *vx0;

  ca.SetNsid(b.get(), 5);
  ca.CreateVxlan("vx1", 43, 5);
  std::optional<LinkInfo> vx1 = ca.GetLink("vx1");
  ASSERT_TRUE(vx1.has_value());
  EXPECT_EQ(vx1->link_netnsid, 5) << *vx1;
  EXPECT_THAT(Names(RouteClient(b.get()).DumpLinks()), ElementsAre("lo"));

  auto unknown = NetlinkErrorOf([&] { ca.CreateVxlan("vx2", 44, 77); });
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->err(), EINVAL) << unknown->what();
}

TEST(RouteClientTest, Nsids) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  FileDescriptor c = NewNetns();
  RouteClient ca(a.get());
  EXPECT_EQ(ca.GetNsid(b.get()), NETNSA_NSID_NOT_ASSIGNED);
  EXPECT_THAT(ca.DumpNsids(), IsEmpty());

  ca.SetNsid(b.get(), 7);
  EXPECT_EQ(ca.GetNsid(b.get()), 7);
  auto reassign = NetlinkErrorOf([&] { ca.SetNsid(b.get(), 8); });
  ASSERT_TRUE(reassign);
  EXPECT_EQ(reassign->err(), EEXIST);
  EXPECT_EQ(reassign->extack(), "Peer netns already has a nsid assigned");
  auto taken = NetlinkErrorOf([&] { ca.SetNsid(c.get(), 7); });
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->err(), EEXIST);
  EXPECT_EQ(taken->extack(), "The specified nsid is already used");

  ca.SetNsid(c.get(), -1);  // the kernel picks the lowest free id
  EXPECT_EQ(ca.GetNsid(c.get()), 0);
  EXPECT_THAT(ca.DumpNsids(), ElementsAre(0, 7));
  // nsids are relative: b has none for a.
  EXPECT_EQ(RouteClient(b.get()).GetNsid(a.get()), NETNSA_NSID_NOT_ASSIGNED);

  auto bad_fd = NetlinkErrorOf([&] { ca.GetNsid(-1); });
  ASSERT_TRUE(bad_fd);
  EXPECT_EQ(bad_fd->err(), EBADF) << bad_fd->what();
}

}  // namespace
}  // namespace conform
