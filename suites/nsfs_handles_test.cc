// nsfs file handles (SEMANTICS.md B4.6): name_to_handle_at on a netns fd and
// open_by_handle_at from FD_NSFS_ROOT, while alive, after death, and from a child PID namespace.
//
// Features that arrived in a given release are probed by trying them; without them the cases SKIP
// and say which is missing. Shared helpers: suites/nsfs_helpers.h.

#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nsfs_helpers.h"

namespace conform {
namespace {

using namespace nsfs;  // what every nsfs suite shares

// Newer than Debian 12's uapi headers (6.18's linux/nsfs.h, linux/fcntl.h, linux/exportfs.h).
constexpr int kFdNsfsRoot = -10003;  // FD_NSFS_ROOT
constexpr int kFileidNsfs = 0xf1;    // FILEID_NSFS
struct NsfsFileHandle {              // struct nsfs_file_handle
  uint64_t ns_id;
  uint32_t ns_type;
  uint32_t ns_inum;
};
// name_to_handle_at(nsfd, "", AT_EMPTY_PATH) into a buffer big enough for any handle.
struct HandleBuffer {
  file_handle handle;
  unsigned char bytes[128];
};

int EncodeHandle(int ns_fd, HandleBuffer& buf) {
  buf.handle.handle_bytes = sizeof(buf.bytes);
  int mount_id = 0;
  return name_to_handle_at(ns_fd, "", &buf.handle, &mount_id, AT_EMPTY_PATH);
}
// =====================================================================================
// B4.6 nsfs file handles
// =====================================================================================
//
// Handles arrived in 6.18 (5222470b2fbb "nsfs: support file handles"): probed by encoding one.
// Who may decode a handle changed in a stable update: d2324a9317f0 "nsfs: tighten permission
// checks for handle opening" (v7.0-rc3; CVE-2026-43391; backported to 6.18.y and 6.19.y)
// replaced ns_capable(owner, CAP_SYS_ADMIN) in nsfs_fh_to_dentry() by may_see_all_namespaces():
// a namespace the caller is not in decodes only for a task in the initial PID namespace with
// CAP_SYS_ADMIN in the initial user namespace; the caller's own namespaces decode for anyone.
// The refusal (-EPERM there) reaches user space as ESTALE, because do_handle_to_path()
// (fs/fhandle.c) reports every decode error but ENOMEM as ESTALE; a refused live namespace thus
// looks like a dead one, and the refusal case holds it open to show that it is alive.

constexpr const char* kHandleClause = "sem.B4.6.nsfs-file-handles";
constexpr const char* kNoHandles = "kernel has no nsfs file handles (name_to_handle_at probed)";

FileDescriptor OpenOwnNetns() {
  FileDescriptor fd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd) throw SystemError("open /proc/thread-self/ns/net", errno);
  return fd;
}

int ReopenHandle(HandleBuffer& buf) {
  return open_by_handle_at(kFdNsfsRoot, &buf.handle, O_RDONLY | O_CLOEXEC);
}

// The caller's own netns: it may decode that handle wherever it runs (no visibility check for a
// namespace the caller is in), so this holds in the runner's per-case PID namespace too.
NETNS_TEST(NsfsHandle, HandleEncodesIdTypeAndInode, kHandleClause) {
  if (!HasNsfsFileHandles()) GTEST_SKIP() << kNoHandles;
  FileDescriptor net = OpenOwnNetns();
  HandleBuffer buf{};
  ASSERT_THAT(EncodeHandle(net.get(), buf), SyscallSucceeds());
  EXPECT_EQ(buf.handle.handle_type, kFileidNsfs);
  ASSERT_EQ(buf.handle.handle_bytes, sizeof(NsfsFileHandle));
  NsfsFileHandle fh{};
  std::memcpy(&fh, buf.handle.f_handle, sizeof(fh));
  EXPECT_EQ(fh.ns_type, static_cast<uint32_t>(CLONE_NEWNET));
  EXPECT_EQ(fh.ns_inum, Fstat(net.get()).st_ino);
  if (auto id = NetnsId(net.get())) {
    EXPECT_EQ(fh.ns_id, *id);
  }

  FileDescriptor reopened(ReopenHandle(buf));
  ASSERT_TRUE(reopened.valid()) << "open_by_handle_at: " << ErrnoName(errno);
  EXPECT_EQ(IdentifyNetns(reopened.get()), IdentifyNetns(net.get()));
  EXPECT_EQ(Fstat(reopened.get()).st_ino, Fstat(net.get()).st_ino);
}

// Another netns, reopened while alive and refused once dead: a caller that may see all
// namespaces (the runner starts this case in the initial PID namespace) is the one for whom the
// only reason to refuse is the namespace's death.
NETNS_TEST(NsfsHandle, ReopensWhileAliveEstaleAfterDeath, kHandleClause,
           .kconfigs = {"CONFIG_VETH"}, .initial_pid_ns = true) {
  if (!HasNsfsFileHandles()) GTEST_SKIP() << kNoHandles;
  FileDescriptor observer = CreateNetns(), net = CreateNetns();
  HandleBuffer buf{};
  ASSERT_THAT(EncodeHandle(net.get(), buf), SyscallSucceeds());
  {
    FileDescriptor alive(ReopenHandle(buf));
    ASSERT_TRUE(alive.valid()) << "while alive: " << ErrnoName(errno);
    EXPECT_EQ(IdentifyNetns(alive.get()), IdentifyNetns(net.get()));
  }
  DeathWatch death(observer.get(), net.get());
  net.reset();
  ASSERT_TRUE(death.Wait());
  EXPECT_THAT(ReopenHandle(buf), SyscallFailsWithErrno(ESTALE));
}

// The security property itself: a task in a child PID namespace, root as it is, cannot reopen
// a live netns it is not in (while its own netns still reopens, so handles work for it at all).
// A kernel without d2324a9317f0 hands it the namespace: CVE-2026-43391.
NETNS_TEST(NsfsHandle, ForeignNetnsRefusedInChildPidNamespace,
           "sem.B4.6.nsfs-handle-needs-initial-pid-ns") {
  if (!HasNsfsFileHandles()) GTEST_SKIP() << kNoHandles;
  FileDescriptor foreign = CreateNetns();  // alive for the whole case: this fd holds it
  FileDescriptor own = OpenOwnNetns();
  HandleBuffer foreign_handle{}, own_handle{};
  ASSERT_THAT(EncodeHandle(foreign.get(), foreign_handle), SyscallSucceeds());
  ASSERT_THAT(EncodeHandle(own.get(), own_handle), SyscallSucceeds());
  const ChildResult child = RunInChild({.new_pid_ns = true}, [&](ChildChannel& channel) {
    channel.Record("own", ReopenHandle(own_handle));
    channel.Record("foreign", ReopenHandle(foreign_handle));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("own"), SyscallSucceeds()) << "its own netns, from a child PID namespace";
  EXPECT_THAT(child.Call("foreign"), SyscallFailsWithErrno(ESTALE))
      << "a task in a child PID namespace reopened a live netns it is not in: VULNERABLE to "
         "CVE-2026-43391 (the kernel lacks d2324a9317f0)";
}

}  // namespace
}  // namespace conform
