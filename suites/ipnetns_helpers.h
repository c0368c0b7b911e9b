// What the ip-netns(8) suites (ipnetns_*_test.cc) share: the sandbox guard, a case's own run
// folder (Scratch), netns-ref run as a command, exec's switched process, a mount namespace to
// look from, and the small file and identity checks their cases make.
//
// Safety: every case works under /run/netns and /etc/netns only inside the netns-conform sandbox
// (the runner's, or the one suite_main enters when run by hand): private tmpfs /run/netns, private
// /etc/netns, own netns and mount namespace. Each case takes a fresh run folder under /run/netns
// (the conventional folder itself for the case about the convention). Teardown is observed by
// netlink events with deadlines, never by sleeping.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/fd.h"
#include "fixtures/holder.h"
#include "fixtures/mountinfo.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/sandbox_mounts.h"

namespace conform::ipnetns {

inline constexpr auto kDeadline = std::chrono::seconds(10);

// The matchers the ip-netns(8) suites assert with (`using namespace ipnetns` brings them along).
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

bool InSandbox();

// Refuses to run outside the sandbox: /run/netns and /etc/netns would be the host's.
#define REQUIRE_SANDBOX()                                                       \
  do {                                                                          \
    if (!::conform::ipnetns::InSandbox())                                       \
      GTEST_SKIP() << "not inside the netns-conform sandbox (" << kInSandboxEnv \
                   << " unset): refusing to touch /run/netns and /etc/netns";   \
  } while (0)

bool Exists(const std::string& path);
bool WriteText(const std::string& path, const std::string& text);
std::vector<std::string> Lines(const std::string& text);

using MountEntry = MountInfoEntry;

bool IsNsfs(const std::string& path);
FileDescriptor OpenPath(const std::string& path);
// Identity of the netns a path (a name, /proc/PID/ns/net) refers to, "" when it cannot be opened.
std::string IdentityOf(const std::string& path);
std::string ProcNet(pid_t pid);

// The RefError a call throws, nullopt when it throws none.
template <typename Fn>
std::optional<ref::RefError> RefErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const ref::RefError& e) {
    return e;
  }
  return std::nullopt;
}

// A fresh run folder of this case under the sandbox's private /run/netns, and the sandbox's
// private /etc/netns; every name left behind is deleted (and the folder's own mount detached)
// when the case ends, however it ends.
class Scratch {
 public:
  explicit Scratch(bool conventional_run_dir = false);
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();

  std::string Path(const std::string& name) const { return ref::NamePath(options.run_dir, name); }

  // Makes options.etc_dir/name/ for exec's /etc binds and returns it. The sandbox's /etc/netns
  // when it exists or can be made (a tmpfs on the host's, or the overlay over /etc); where /etc
  // is read-only in the sandbox (no overlay: the VM guest's initramfs), a folder in the private
  // /tmp serves as etc_dir instead: the binds still go over the real /etc/<entry>.
  std::string MakeEtcFolder(const std::string& name);
  FileDescriptor Open(const std::string& name) const { return OpenPath(Path(name)); }
  std::string Identity(const std::string& name) const { return IdentityOf(Path(name)); }

  ref::Options options;
  std::vector<std::string> warnings;

 private:
  std::vector<std::string> etc_folders_;
};

// A veth pair with va inside the netns `inside` and vb in a long-lived observer netns: the
// observer sees RTM_DELLINK of vb when `inside` is freed.
struct Witness {
  FileDescriptor observer;
  int vb_ifindex = 0;

  explicit Witness(int inside_fd);
  bool PeerExists();
};

// Whether the netns behind an nsfs path still works and holds va: a netlink socket opened inside
// it (through the path) finds the device.
bool HasVa(const std::string& path);

// A process that ran `exec`'s switch (ref::SwitchInto: setns, new slave mount namespace, fresh
// sysfs, /etc binds) and stays there until released: the "command" of `ip netns exec`, alive
// while the case looks at it from outside.
class SwitchedProcess {
 public:
  SwitchedProcess(const ref::Options& options, const std::string& name);

  pid_t pid() const { return holder_.pid(); }
  std::string error() const;  // "" when the switch worked
  void Release() { holder_.Release(); }

 private:
  HolderProcess holder_;
};

// A mount namespace copied from the caller's, held by an nsfs fd after the process that made it
// has gone: "another mount namespace" of ip-netns(8). private_copy: it makes every mount of its
// own private at once, so that nothing propagates to it from the caller's.
FileDescriptor CopyMountNamespace(bool private_copy);

// The mounts at `path` (fstype and propagation fields) as seen from inside the mount namespace
// `mnt_ns` (a forked child enters it); `error` is set when the child could not look.
std::vector<MountEntry> MountsAtIn(int mnt_ns, const std::string& path, std::string* error);

// netns-ref run as a command in a forked child (NetnsRefMain), its output captured.
struct CliResult {
  int exit_code = -1;  // -1 when killed
  bool timed_out = false;
  pid_t pid = -1;
  std::string out, err;
  std::string Describe() const {
    return "exit=" + std::to_string(exit_code) + (timed_out ? " TIMED OUT" : "") + " stdout=\"" +
           out + "\" stderr=\"" + err + "\"";
  }
};

CliResult RunRefCommand(const Scratch& scratch, std::vector<std::string> args);

}  // namespace conform::ipnetns
