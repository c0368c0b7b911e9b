// Unit tests of the kernel-config probe and the requirements judged on it (UnmetRequirement).
// Run as root inside `unshare --net --mount --propagation private` (see tests/CMakeLists.txt):
// every namespace made here dies with the test process.
//
// RunningKernelConfig() caches its first answer for the life of the process, so everything that
// reads it (the kernel-config and requirement tests) does so in a forked child, which starts
// from this process's still-empty cache with its own environment. Nothing in this process calls
// it directly.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures/child.h"
#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/requirements.h"
#include "fixtures/syscall_matchers.h"
#include "tests/fixtures_test_support.h"

namespace conform {
namespace {

// ---- KernelConfig ------------------------------------------------------------------------------

TEST(KernelConfig, ValueAndEnabledOnAParsedConfig) {
  const KernelConfig config{"test", {{"CONFIG_Y", "y"}, {"CONFIG_M", "m"}, {"CONFIG_N", "42"}}};
  EXPECT_TRUE(config.known());
  EXPECT_EQ(config.Value("CONFIG_Y"), "y");
  EXPECT_EQ(config.Enabled("CONFIG_Y"), true);
  EXPECT_EQ(config.Value("CONFIG_M"), "m");
  EXPECT_EQ(config.Enabled("CONFIG_M"), true);
  EXPECT_EQ(config.Value("CONFIG_N"), "42");
  EXPECT_EQ(config.Enabled("CONFIG_N"), false);
  EXPECT_EQ(config.Value("CONFIG_ABSENT"), "n");
  EXPECT_EQ(config.Enabled("CONFIG_ABSENT"), false);
}

TEST(KernelConfig, AnUnknownConfigAnswersNothing) {
  const KernelConfig config{"unknown", {{"CONFIG_Y", "y"}}};
  EXPECT_FALSE(config.known());
  EXPECT_EQ(config.Value("CONFIG_Y"), std::nullopt);
  EXPECT_EQ(config.Enabled("CONFIG_Y"), std::nullopt);
}

constexpr const char* kConfigText =
    "#\n"
    "# Automatically generated file; DO NOT EDIT.\n"
    "#\n"
    "CONFIG_FIXTURE_Y=y\n"
    "CONFIG_FIXTURE_M=m\n"
    "# CONFIG_FIXTURE_NOT_SET is not set\n"
    "CONFIG_FIXTURE_STRING=\"a b=c\"\n"
    "CONFIG_FIXTURE_NUMBER=42\n"
    "not a config line=y\n";

const std::vector<std::string> kProbedSymbols = {"CONFIG_FIXTURE_Y",       "CONFIG_FIXTURE_M",
                                                 "CONFIG_FIXTURE_NOT_SET", "CONFIG_FIXTURE_STRING",
                                                 "CONFIG_FIXTURE_NUMBER",  "CONFIG_FIXTURE_ABSENT"};

std::string OptText(const std::optional<std::string>& v) { return v ? *v : "<nullopt>"; }
std::string OptText(const std::optional<bool>& v) {
  return v ? (*v ? "true" : "false") : "<nullopt>";
}

struct ConfigProbe {
  std::optional<std::string> kconfig_env;  // NETNS_CONFORM_KCONFIG, or unset
  bool hide_fallbacks = false;  // an empty /proc/config.gz and an empty /boot, in the child only
  std::optional<Requirements> needs;  // also judge these
  ChildOptions options;
};

// Hides /proc/config.gz (an empty file bound over it: an empty config is skipped) and /boot (a
// tmpfs) in a mount namespace of the child's own. Each step runs only when the one before it
// succeeded (CheckSyscall throws, which ends the child), so nothing is ever mounted outside it.
void HideKernelConfigFallbacks() {
  CheckSyscall(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
  CheckSyscall(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  CheckSyscall(mount("tmpfs", "/boot", "tmpfs", 0, "mode=0755"), "mount tmpfs /boot");
  FileDescriptor empty(static_cast<int>(CheckSyscall(
      open("/boot/empty", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), "create /boot/empty")));
  if (access("/proc/config.gz", F_OK) == 0)
    CheckSyscall(mount("/boot/empty", "/proc/config.gz", nullptr, MS_BIND, nullptr),
                 "bind /boot/empty over /proc/config.gz");
}

// RunningKernelConfig() in a forked child (a fresh cache), as notes "source", "known",
// "value:SYM", "enabled:SYM" and, with needs, "unmet".
ChildResult ProbeConfigInChild(const ConfigProbe& probe) {
  return RunInChild(probe.options, [&](ChildChannel& ch) {
    if (probe.kconfig_env)
      setenv("NETNS_CONFORM_KCONFIG", probe.kconfig_env->c_str(), 1);
    else
      unsetenv("NETNS_CONFORM_KCONFIG");
    if (probe.hide_fallbacks) HideKernelConfigFallbacks();
    const KernelConfig& config = RunningKernelConfig();
    ch.Note("source", config.source);
    ch.Note("known", config.known() ? "true" : "false");
    for (const auto& symbol : kProbedSymbols) {
      ch.Note("value:" + symbol, OptText(config.Value(symbol)));
      ch.Note("enabled:" + symbol, OptText(config.Enabled(symbol)));
    }
    if (probe.needs) ch.Note("unmet", OptText(UnmetRequirement(*probe.needs)));
  });
}

void ExpectFixtureSymbols(ChildResult& child) {
  EXPECT_EQ(child.notes["known"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_Y"], "y");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_Y"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_M"], "m");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_M"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_NOT_SET"], "n");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_NOT_SET"], "false");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_STRING"], "\"a b=c\"");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_STRING"], "false");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_NUMBER"], "42");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_ABSENT"], "n");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_ABSENT"], "false");
}

std::string WritePlainConfig(const TempDir& dir) {
  const auto path = (dir.path() / "config").string();
  std::ofstream(path) << kConfigText;
  return path;
}

std::string WriteGzipConfig(const TempDir& dir) {
  const auto path = (dir.path() / "config.gz").string();
  gzFile file = gzopen(path.c_str(), "wb");
  if (!file) throw std::runtime_error("gzopen " + path);
  const std::string text = kConfigText;
  const int written = gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
  gzclose(file);
  if (written != static_cast<int>(text.size())) throw std::runtime_error("gzwrite " + path);
  return path;
}

TEST(KernelConfig, ReadsAPlainFileNamedByTheEnvironment) {
  TempDir dir;
  const auto path = WritePlainConfig(dir);
  auto child = ProbeConfigInChild({.kconfig_env = path});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], path);
  ExpectFixtureSymbols(child);
}

TEST(KernelConfig, ReadsAGzipFileNamedByTheEnvironment) {
  TempDir dir;
  const auto path = WriteGzipConfig(dir);
  {  // really compressed, so the test goes through zlib's inflate, not its plain pass-through
    std::ifstream in(path, std::ios::binary);
    unsigned char magic[2] = {};
    in.read(reinterpret_cast<char*>(magic), 2);
    ASSERT_EQ(magic[0], 0x1f);
    ASSERT_EQ(magic[1], 0x8b);
  }
  auto child = ProbeConfigInChild({.kconfig_env = path});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], path);
  ExpectFixtureSymbols(child);
}

TEST(KernelConfig, UnknownWhenNoConfigCanBeRead) {
  TempDir dir;
  auto child = ProbeConfigInChild(
      {.kconfig_env = (dir.path() / "missing").string(), .hide_fallbacks = true});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], "unknown");
  EXPECT_EQ(child.notes["known"], "false");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_Y"], "<nullopt>");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_Y"], "<nullopt>");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_ABSENT"], "<nullopt>");
}

TEST(KernelConfig, AMissingOverrideFallsBackToTheRunningKernels) {
  if (access("/proc/config.gz", R_OK) != 0) GTEST_SKIP() << "this kernel has no /proc/config.gz";
  TempDir dir;
  auto child = ProbeConfigInChild({.kconfig_env = (dir.path() / "missing").string()});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], "/proc/config.gz");
  EXPECT_EQ(child.notes["known"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_Y"], "n");
}

// ---- UnmetRequirement --------------------------------------------------------------------------

TEST(UnmetRequirement, RootIsUnmetForNobody) {
  auto child = ProbeConfigInChild({.needs = Requirements{}, .options = {.uid = kNobodyUid}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "needs root (euid 0)");
}

TEST(UnmetRequirement, NothingUnmetForRootWithoutKconfigs) {
  auto child = ProbeConfigInChild({.needs = Requirements{}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

TEST(UnmetRequirement, NobodyMeetsANeedWithoutRoot) {
  auto child =
      ProbeConfigInChild({.needs = Requirements{.root = false}, .options = {.uid = kNobodyUid}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

TEST(UnmetRequirement, AnAbsentKconfigSymbolIsUnmetWithItsSource) {
  TempDir dir;
  const auto path = WritePlainConfig(dir);
  auto child = ProbeConfigInChild(
      {.kconfig_env = path,
       .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_Y", "CONFIG_FIXTURE_ABSENT"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"],
            "kernel config lacks CONFIG_FIXTURE_ABSENT (read from " + path + ")");
}

TEST(UnmetRequirement, ANotSetKconfigSymbolIsUnmet) {
  TempDir dir;
  const auto path = WriteGzipConfig(dir);
  auto child = ProbeConfigInChild(
      {.kconfig_env = path, .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_NOT_SET"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"],
            "kernel config lacks CONFIG_FIXTURE_NOT_SET (read from " + path + ")");
}

TEST(UnmetRequirement, PresentKconfigSymbolsAreMet) {
  TempDir dir;
  const auto path = WritePlainConfig(dir);
  auto child = ProbeConfigInChild(
      {.kconfig_env = path,
       .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_Y", "CONFIG_FIXTURE_M"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

TEST(UnmetRequirement, AnUnknownConfigDoesNotSkip) {
  TempDir dir;
  auto child = ProbeConfigInChild({.kconfig_env = (dir.path() / "missing").string(),
                                   .hide_fallbacks = true,
                                   .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_ABSENT"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], "unknown");
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

}  // namespace
}  // namespace conform
