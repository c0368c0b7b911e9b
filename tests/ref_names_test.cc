// Tests of the reference ip-netns(8): add, del and list.
// Runs sandboxed: see tests/ref_test_main.cc.
#include "tests/ref_test_support.h"

namespace conform::ref {
namespace {

// ---- add / del / list ---------------------------------------------------------------------------

TEST_F(RefTest, AddListDelete) {
  Add(options_, "a");
  Add(options_, "b");
  EXPECT_THAT(Names(List(options_)), UnorderedElementsAre("a", "b"));
  EXPECT_TRUE(IsNsfsMount(Path("a")));
  EXPECT_TRUE(IsNsfsMount(Path("b")));
  const NetnsIdentity a = IdentityOfPath(Path("a"));
  EXPECT_FALSE(a == IdentityOfPath(Path("b")));
  EXPECT_FALSE(a == CurrentNetnsIdentity()) << "add must not use (or move) the caller's netns";

  Delete(options_, "a");
  EXPECT_FALSE(Exists(Path("a")));
  EXPECT_THAT(MountsAt(Path("a")), ::testing::IsEmpty());
  EXPECT_THAT(Names(List(options_)), ElementsAre("b"));

  const ProcessResult add = RunCli({"add", "c"});
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  const ProcessResult list = RunCli({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_THAT(Lines(list.out), UnorderedElementsAre("b", "c"));
  const ProcessResult del = RunCli({"del", "c"});
  EXPECT_EQ(del.exit_code, 0) << del.Describe();
  EXPECT_FALSE(Exists(Path("c")));
}

TEST_F(RefTest, AddExistingFailsAndKeepsTheNetns) {
  Add(options_, "a");
  const NetnsIdentity before = IdentityOfPath(Path("a"));
  const auto [err, message] = ErrorOf([&] { Add(options_, "a"); });
  EXPECT_EQ(err, EEXIST);
  EXPECT_THAT(message, HasSubstr("already exists"));
  EXPECT_TRUE(IdentityOfPath(Path("a")) == before);
  EXPECT_EQ(MountsAt(Path("a")).size(), 1u) << "a second add must not stack a mount";

  const ProcessResult cli = RunCli({"add", "a"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_THAT(cli.err, StartsWith("netns-ref: netns 'a' already exists"));
  EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
  EXPECT_TRUE(IdentityOfPath(Path("a")) == before);
}

TEST_F(RefTest, InvalidNamesAreRefusedBeforeTouchingAnything) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "is empty"},        {std::string(256, 'x'), "longer than NAME_MAX"},
      {"a/b", "contains '/'"}, {".", "'.' or '..'"},
      {"..", "'.' or '..'"},
  };
  for (const auto& [name, reason] : cases) {
    SCOPED_TRACE("name '" + name + "'");
    for (auto fn : std::vector<std::function<void()>>{
             [&] { Add(options_, name); }, [&] { Attach(options_, name, getpid()); },
             [&] { Delete(options_, name); }, [&] { Pids(options_, name); },
             [&] { SetNsid(options_, name, -1); }, [&] { SwitchInto(options_, name); }}) {
      const auto [err, message] = ErrorOf(fn);
      EXPECT_NE(err, 0);
      EXPECT_THAT(message, StartsWith("invalid netns name '" + name + "': "));
      EXPECT_THAT(message, HasSubstr(reason));
    }
    for (const std::string command : {"add", "del", "pids", "exec"}) {
      std::vector<std::string> args = {command, name};
      if (command == "exec") args.push_back("true");
      const ProcessResult cli = RunCli(args);
      EXPECT_EQ(cli.exit_code, 1) << command << ": " << cli.Describe();
      EXPECT_THAT(cli.err, StartsWith("netns-ref: invalid netns name '" + name + "': "));
    }
  }
  EXPECT_FALSE(Exists(options_.run_dir)) << "an invalid name must not create the run folder";
  EXPECT_FALSE(Exists(base_ + "/b"));
}

TEST_F(RefTest, DeleteMissingNameFails) {
  const auto [err, message] = ErrorOf([&] { Delete(options_, "nope"); });
  EXPECT_EQ(err, ENOENT);
  EXPECT_THAT(message, HasSubstr("does not exist"));
  const ProcessResult cli = RunCli({"del", "nope"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_THAT(cli.err, StartsWith("netns-ref: netns 'nope' does not exist"));
}

TEST_F(RefTest, DeleteAllRemovesEveryName) {
  for (const char* name : {"x", "y", "z"}) Add(options_, name);
  DeleteAll(options_);
  EXPECT_THAT(List(options_), ::testing::IsEmpty());
  for (const char* name : {"x", "y"}) Add(options_, name);
  const ProcessResult ip_syntax = RunCli({"-all", "del"});
  EXPECT_EQ(ip_syntax.exit_code, 0) << ip_syntax.Describe();
  EXPECT_THAT(List(options_), ::testing::IsEmpty());
  Add(options_, "w");
  const ProcessResult brief_syntax = RunCli({"del", "-all"});
  EXPECT_EQ(brief_syntax.exit_code, 0) << brief_syntax.Describe();
  EXPECT_THAT(List(options_), ::testing::IsEmpty());
}

// ip-netns(8): deleting removes the name; the netns lives while a process (or fd) holds it.
TEST_F(RefTest, DeleteWhileHeldKeepsTheNetnsAlive) {
  Add(options_, "h");
  FileDescriptor holder_fd(open(Path("h").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(holder_fd.valid());
  const NetnsIdentity identity = IdentifyNetns(holder_fd.get());

  Process holder(Cli({"exec", "h", "sh", "-c", "echo ready; exec cat"}), /*pipe_stdin=*/true);
  ASSERT_EQ(holder.ReadLine(kDeadline), "ready");
  const std::string holder_ns = "/proc/" + std::to_string(holder.pid()) + "/ns/net";
  EXPECT_TRUE(IdentityOfPath(holder_ns) == identity);
  EXPECT_THAT(Pids(options_, "h"), ElementsAre(holder.pid()));
  EXPECT_THAT(Identify(options_, holder.pid()), ElementsAre("h"));

  Delete(options_, "h");
  EXPECT_FALSE(Exists(Path("h")));
  EXPECT_TRUE(IdentifyNetns(holder_fd.get()) == identity) << "the fd still holds the netns";
  EXPECT_TRUE(IdentityOfPath(holder_ns) == identity) << "the process is still in it";
  EXPECT_THAT(Identify(options_, holder.pid()), ::testing::IsEmpty());

  holder.CloseStdin();
  const ProcessResult done = holder.Wait(kDeadline);
  EXPECT_EQ(done.exit_code, 0) << done.Describe();
}

}  // namespace
}  // namespace conform::ref
