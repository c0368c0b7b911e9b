// Tests of the reference ip-netns(8): monitor, concurrent adds and deletes, and the run folder
// (missing, not a mount, already shared, from the environment).
// Runs sandboxed: see tests/ref_test_main.cc.
#include "tests/ref_test_support.h"

namespace conform::ref {
namespace {

// ---- monitor ------------------------------------------------------------------------------------

TEST_F(RefTest, MonitorReportsNamesNotPlainFiles) {
  Monitor monitor(options_);
  const auto deadline = [] { return std::chrono::steady_clock::now() + kDeadline; };
  Add(options_, "a");
  auto event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "add a");

  WriteFile(Path("junk"), "");  // iproute2 would print "add junk"
  Add(options_, "b");
  event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "add b");

  ASSERT_EQ(unlink(Path("junk").c_str()), 0);
  Delete(options_, "b");
  event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "delete b");
  Delete(options_, "a");
  event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "delete a");
}

TEST_F(RefTest, MonitorCommandPrintsAddAndDelete) {
  ASSERT_EQ(mkdir(options_.run_dir.c_str(), 0755), 0);
  Process monitor(Cli({"monitor"}));
  // The monitor gives no sign that its watch is in place: add probe names until one is seen.
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  bool seen = false;
  for (int i = 0; !seen && std::chrono::steady_clock::now() < deadline; ++i) {
    const std::string probe = "probe" + std::to_string(i);
    Add(options_, probe);
    while (auto line = monitor.ReadLine(milliseconds(200))) {
      if (*line == "add " + probe) {
        seen = true;
        break;
      }
    }
  }
  ASSERT_TRUE(seen) << "the monitor never reported a probe";
  Add(options_, "m");
  auto next_line = [&]() -> std::string {
    while (auto line = monitor.ReadLine(kDeadline)) {
      if (line->find("probe") == std::string::npos) return *line;
    }
    return "<nothing>";
  };
  EXPECT_EQ(next_line(), "add m");
  Delete(options_, "m");
  EXPECT_EQ(next_line(), "delete m");
}

// ---- concurrency --------------------------------------------------------------------------------

// Racing processes must not stack run-folder mounts (Debian #949235) nor lose or corrupt names.
TEST_F(RefTest, ConcurrentAddsAndDeletes) {
  constexpr int kCount = 20;
  std::vector<std::unique_ptr<Process>> first;
  for (int i = 0; i < kCount; ++i)
    first.push_back(std::make_unique<Process>(Cli({"add", "c" + std::to_string(i)})));
  for (auto& process : first) {
    const ProcessResult result = process->Wait(kDeadline);
    EXPECT_EQ(result.exit_code, 0) << result.Describe();
  }
  std::vector<std::unique_ptr<Process>> second;
  std::set<std::string> expected;
  for (int i = 0; i < kCount; ++i) {
    if (i % 2 == 0) {
      second.push_back(std::make_unique<Process>(Cli({"del", "c" + std::to_string(i)})));
    } else {
      expected.insert("c" + std::to_string(i));
    }
    second.push_back(std::make_unique<Process>(Cli({"add", "d" + std::to_string(i)})));
    expected.insert("d" + std::to_string(i));
  }
  for (auto& process : second) {
    const ProcessResult result = process->Wait(kDeadline);
    EXPECT_EQ(result.exit_code, 0) << result.Describe();
  }
  EXPECT_THAT(Names(List(options_)), UnorderedElementsAreArray(expected));
  for (const auto& name : expected) {
    EXPECT_TRUE(IsNsfsMount(Path(name))) << name;
    EXPECT_EQ(MountsAt(Path(name)).size(), 1u) << name;
  }
  const auto run_mounts = MountsAt(options_.run_dir);
  ASSERT_EQ(run_mounts.size(), 1u) << "the run folder is bound once, whatever the race";
  EXPECT_THAT(run_mounts[0].optional_fields, HasSubstr("shared:"));
}

// ---- the run folder -----------------------------------------------------------------------------

TEST_F(RefTest, RunDirMissingIsCreatedAndShared) {
  Add(options_, "a");
  struct stat st {};
  ASSERT_EQ(stat(options_.run_dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  const auto mounts = MountsAt(options_.run_dir);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_THAT(mounts[0].optional_fields, HasSubstr("shared:"));
}

TEST_F(RefTest, RunDirNotAMountIsBoundOnItself) {
  ASSERT_EQ(mkdir(options_.run_dir.c_str(), 0700), 0);
  ASSERT_THAT(MountsAt(options_.run_dir), ::testing::IsEmpty());
  Add(options_, "a");
  Add(options_, "b");  // a second add finds a mount point: no second bind
  const auto mounts = MountsAt(options_.run_dir);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_THAT(mounts[0].optional_fields, HasSubstr("shared:"));
  struct stat st {};
  ASSERT_EQ(stat(options_.run_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "an existing folder keeps its mode";
}

TEST_F(RefTest, RunDirAlreadySharedIsUsedAsIs) {
  ASSERT_EQ(mkdir(options_.run_dir.c_str(), 0755), 0);
  ASSERT_EQ(mount("tmpfs", options_.run_dir.c_str(), "tmpfs", 0, "mode=0755"), 0);
  ASSERT_EQ(mount("", options_.run_dir.c_str(), nullptr, MS_SHARED, nullptr), 0);
  const auto before = MountsAt(options_.run_dir);
  ASSERT_EQ(before.size(), 1u);
  Add(options_, "a");
  const auto after = MountsAt(options_.run_dir);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id, before[0].id);
  EXPECT_EQ(after[0].optional_fields, before[0].optional_fields) << "same peer group";
  EXPECT_EQ(after[0].fstype, "tmpfs");
}

TEST_F(RefTest, RunDirParentMissingFails) {
  options_.run_dir = base_ + "/missing/run";
  const auto [err, message] = ErrorOf([&] { Add(options_, "a"); });
  EXPECT_EQ(err, ENOENT) << message;
  EXPECT_FALSE(Exists(base_ + "/missing"));
}

TEST_F(RefTest, RunDirFromEnvironment) {
  const std::string env_dir = base_ + "/env-run";
  Process add({"env", "NETNS_RUN_DIR=" + env_dir, RefBinary(), "add", "v"});
  const ProcessResult result = add.Wait(kDeadline);
  ASSERT_EQ(result.exit_code, 0) << result.Describe();
  EXPECT_TRUE(IsNsfsMount(env_dir + "/v"));
  Options env_options = options_;
  env_options.run_dir = env_dir;
  Delete(env_options, "v");
}

}  // namespace
}  // namespace conform::ref
