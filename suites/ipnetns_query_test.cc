// ip-netns(8), SEMANTICS.md §8. The queries: `list`, `identify` and `pids` (the names
// of a process's netns, the processes in a named netns) and their edge cases
// (ipnetns8.list.*, ipnetns8.identify.*, ipnetns8.pids.*, sem.B8.4, sem.B8.5).
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
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/syscall_matchers.h"
#include "suites/ipnetns_helpers.h"

namespace conform {
namespace {

using namespace ipnetns;  // the helpers every ip-netns(8) suite shares

std::vector<std::string> Names(const std::vector<ref::ListEntry>& entries) {
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.name);
  return names;
}

// =====================================================================================
// list, identify, pids
// =====================================================================================

NETNS_TEST(IpNetnsQuery, ListShowsEveryNamedNetns, "ipnetns8.list.shows-named-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  EXPECT_THAT(ref::List(s.options), IsEmpty()) << "a missing run folder holds no names";
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  NetnsHolderProcess other;
  ref::Attach(s.options, "c", other.pid());
  EXPECT_THAT(Names(ref::List(s.options)), UnorderedElementsAre("a", "b", "c"));
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), UnorderedElementsAre("a", "b", "c"))
      << "list does not show what is in the folder";
  ref::Delete(s.options, "b");
  EXPECT_THAT(Names(ref::List(s.options)), UnorderedElementsAre("a", "c"));
  // The command prints one name a line.
  CliResult cli = RunRefCommand(s, {"list"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_THAT(Lines(cli.out), UnorderedElementsAre("a", "c")) << cli.Describe();
  ref::DeleteAll(s.options);
  EXPECT_THAT(ref::List(s.options), IsEmpty());
}

NETNS_TEST(IpNetnsQuery, IdentifyFindsEveryNameOfAProcessNetns,
           "ipnetns8.identify.names-of-process") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  NetnsHolderProcess in_a(s.Open("a").get());
  ref::Attach(s.options, "a2", in_a.pid());  // a second name of a's netns
  EXPECT_THAT(ref::Identify(s.options, in_a.pid()), UnorderedElementsAre("a", "a2"));
  // It agrees with /proc: the names whose inode is that of /proc/PID/ns/net.
  struct stat proc {};
  ASSERT_THAT(stat(ProcNet(in_a.pid()).c_str(), &proc), SyscallSucceeds());
  std::vector<std::string> expected;
  for (const auto& name : ref::ReadNames(s.options.run_dir)) {
    struct stat st {};
    if (stat(s.Path(name).c_str(), &st) == 0 && st.st_ino == proc.st_ino &&
        st.st_dev == proc.st_dev)
      expected.push_back(name);
  }
  EXPECT_THAT(ref::Identify(s.options, in_a.pid()), UnorderedElementsAre("a", "a2"));
  EXPECT_THAT(expected, UnorderedElementsAre("a", "a2"));
  // No PID: the calling process. Its netns has no name until one is attached.
  EXPECT_THAT(ref::Identify(s.options, std::nullopt), IsEmpty());
  ref::Attach(s.options, "self", getpid());
  EXPECT_THAT(ref::Identify(s.options, std::nullopt), ElementsAre("self"));
  EXPECT_THAT(ref::Identify(s.options, getpid()), ElementsAre("self"));
  // A process that entered b through exec's switch is identified as b.
  SwitchedProcess exec_b(s.options, "b");
  ASSERT_EQ(exec_b.error(), "");
  EXPECT_THAT(ref::Identify(s.options, exec_b.pid()), ElementsAre("b"));
}

NETNS_TEST(IpNetnsQuery, IdentifyEdgeCases, "sem.B8.4.identify-edge-cases") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  NetnsHolderProcess unnamed;
  EXPECT_THAT(ref::Identify(s.options, unnamed.pid()), IsEmpty()) << "no name matches";
  // A pid without a process.
  std::fflush(nullptr);
  const pid_t gone = fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) _exit(0);
  ASSERT_THAT(waitpid(gone, nullptr, 0), SyscallSucceedsWithValue(gone));
  auto missing = RefErrorOf([&] { ref::Identify(s.options, gone); });
  ASSERT_TRUE(missing.has_value()) << "identify of a dead pid succeeded";
  EXPECT_EQ(missing->err(), ENOENT);
  // The command: no match prints an empty line and exits 0; a non-number exits 1.
  CliResult none = RunRefCommand(s, {"identify", std::to_string(unnamed.pid())});
  EXPECT_EQ(none.exit_code, 0) << none.Describe();
  EXPECT_EQ(none.out, "\n") << none.Describe();
  CliResult abc = RunRefCommand(s, {"identify", "abc"});
  EXPECT_EQ(abc.exit_code, 1) << abc.Describe();
  EXPECT_THAT(abc.err, HasSubstr("not a pid")) << abc.Describe();
  EXPECT_EQ(abc.out, "") << abc.Describe();
  // Control: a match prints the name.
  NetnsHolderProcess in_a(s.Open("a").get());
  CliResult match = RunRefCommand(s, {"identify", std::to_string(in_a.pid())});
  EXPECT_EQ(match.exit_code, 0) << match.Describe();
  EXPECT_EQ(match.out, "a\n") << match.Describe();
}

NETNS_TEST(IpNetnsQuery, PidsListsEveryProcessInTheNetns, "ipnetns8.pids.lists-processes") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  EXPECT_THAT(ref::Pids(s.options, "a"), IsEmpty());
  NetnsHolderProcess second(s.Open("a").get());
  NetnsHolderProcess in_b(s.Open("b").get());
  SwitchedProcess exec_a(s.options, "a");
  ASSERT_EQ(exec_a.error(), "");
  // Made last, so that no other helper holds a copy of its release pipe: it can leave first.
  std::optional<NetnsHolderProcess> first;
  first.emplace(s.Open("a").get());
  std::vector<pid_t> expected = {first->pid(), second.pid(), exec_a.pid()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ref::Pids(s.options, "a"), expected);
  EXPECT_EQ(ref::Pids(s.options, "b"), std::vector<pid_t>{in_b.pid()});
  // It agrees with /proc.
  struct stat target {};
  ASSERT_THAT(stat(s.Path("a").c_str(), &target), SyscallSucceeds());
  std::vector<pid_t> walked;
  for (const auto& entry : ref::ReadNames("/proc")) {
    if (entry.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st {};
    if (stat(("/proc/" + entry + "/ns/net").c_str(), &st) == 0 && st.st_ino == target.st_ino &&
        st.st_dev == target.st_dev)
      walked.push_back(std::stoi(entry));
  }
  std::sort(walked.begin(), walked.end());
  EXPECT_EQ(walked, expected);
  // A process that leaves is no longer listed.
  first.reset();
  EXPECT_THAT(ref::Pids(s.options, "a"), UnorderedElementsAre(second.pid(), exec_a.pid()));
  // The command prints one pid a line.
  CliResult cli = RunRefCommand(s, {"pids", "b"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_EQ(cli.out, std::to_string(in_b.pid()) + "\n");
}

NETNS_TEST(IpNetnsQuery, PidsOfAMissingNameFails, "sem.B8.5.pids-missing-name-fails") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  auto error = RefErrorOf([&] { ref::Pids(s.options, "nope"); });
  ASSERT_TRUE(error.has_value()) << "pids of a missing name succeeded";
  EXPECT_EQ(error->err(), ENOENT);
  EXPECT_EQ(error->exit_code(), 1);
  CliResult cli = RunRefCommand(s, {"pids", "nope"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_EQ(cli.out, "");
  // Control: an existing name without processes succeeds with no output.
  CliResult empty = RunRefCommand(s, {"pids", "a"});
  EXPECT_EQ(empty.exit_code, 0) << empty.Describe();
  EXPECT_EQ(empty.out, "");
}

}  // namespace
}  // namespace conform
