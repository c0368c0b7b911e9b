// ip-netns(8), SEMANTICS.md §8. `set` and `list-id`: nsids of named netns over
// RTM_NEWNSID/RTM_GETNSID, valid only in the current netns, assigned by the kernel when needed
// and never changed (ipnetns8.set.*, ipnetns8.list-id.*, sem.B8.7).
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
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/syscall_matchers.h"
#include "suites/ipnetns_helpers.h"

namespace conform {
namespace {

using namespace ipnetns;  // the helpers every ip-netns(8) suite shares

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

}  // namespace
}  // namespace conform
