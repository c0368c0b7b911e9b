// clone(2) flag combinations with CLONE_NEWNET (SEMANTICS.md B5.2): a thread may be created
// directly in a new netns, clone(CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|CLONE_NEWNET), while
// copy_process refuses CLONE_THREAD together with CLONE_NEWUSER (or CLONE_NEWPID) with EINVAL.
//
// The raw thread is made inside a forked child (RunInChild), so that nothing it does can disturb
// the test process; the child waits for the thread's exit on CLONE_CHILD_CLEARTID's futex.
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

constexpr const char* kCloneThreadClause = "sem.B5.2.clone-thread-newnet";
constexpr size_t kStackSize = 256 * 1024;

// What the raw thread saw, written into memory it shares with its creator (CLONE_VM).
struct ThreadProbe {
  pid_t tid = 0;  // CLONE_PARENT_SETTID sets it, CLONE_CHILD_CLEARTID clears it at thread exit
  char thread_self[64] = {};
  char process_self[64] = {};
};

// Runs on the new thread, which shares the creator's TLS (no CLONE_SETTLS): only plain syscalls.
int ThreadMain(void* arg) {
  auto* probe = static_cast<ThreadProbe*>(arg);
  (void)!readlink("/proc/thread-self/ns/net", probe->thread_self, sizeof(probe->thread_self) - 1);
  (void)!readlink("/proc/self/ns/net", probe->process_self, sizeof(probe->process_self) - 1);
  return 0;  // glibc's clone() then ends the thread with exit(2), not exit_group(2)
}

// clone(2) of a thread with CLONE_VM|CLONE_THREAD|CLONE_SIGHAND (plus what threads share) and
// `extra`; waits until the thread, if one was made, has exited. Returns clone's result.
long CloneThread(int extra, ThreadProbe& probe) {
  void* stack = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) throw SystemError("mmap stack", errno);
  const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                    CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | extra;
  long rc = clone(ThreadMain, static_cast<char*>(stack) + kStackSize, flags, &probe, &probe.tid,
                  nullptr, &probe.tid);
  const int err = errno;
  if (rc > 0) {
    timespec timeout{10, 0};
    for (pid_t tid; (tid = __atomic_load_n(&probe.tid, __ATOMIC_ACQUIRE)) != 0;) {
      if (syscall(SYS_futex, &probe.tid, FUTEX_WAIT, tid, &timeout, nullptr, 0) != 0 &&
          errno == ETIMEDOUT)
        throw SystemError("the cloned thread did not exit within 10 s", ETIMEDOUT);
    }
  }
  // The stack is left mapped: the exiting thread may still be on it after it cleared its tid.
  errno = err;
  return rc;
}

std::string Link(const char* path) {
  char buf[64] = {};
  (void)!readlink(path, buf, sizeof(buf) - 1);
  return buf;
}

NETNS_TEST(CloneFlags, CloneThreadWithNewnetMakesThreadInNewNetns, kCloneThreadClause) {
  auto child = RunInChild({}, [](ChildChannel& ch) {
    const std::string before = Link("/proc/self/ns/net");
    ThreadProbe probe;
    ch.Record("clone", CloneThread(CLONE_NEWNET, probe));
    ch.Note("before", before);
    ch.Note("thread", probe.thread_self);
    ch.Note("thread_sees_process", probe.process_self);
    ch.Note("after_process", Link("/proc/self/ns/net"));
    ch.Note("after_leader", Link("/proc/thread-self/ns/net"));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("clone"), SyscallSucceeds());
  const std::string before = child.notes["before"];
  ASSERT_EQ(before.rfind("net:[", 0), 0u) << child.Describe();
  EXPECT_EQ(child.notes["thread"].rfind("net:[", 0), 0u) << "the thread never ran";
  EXPECT_NE(child.notes["thread"], before) << "the new thread is not in a new netns";
  EXPECT_EQ(child.notes["thread_sees_process"], before)
      << "/proc/self follows the thread-group leader, which did not move";
  EXPECT_EQ(child.notes["after_process"], before);
  EXPECT_EQ(child.notes["after_leader"], before) << "the creating thread must not move";
}

NETNS_TEST(CloneFlags, CloneThreadWithNewnetAndNewuserIsEinval, kCloneThreadClause) {
  auto child = RunInChild({}, [](ChildChannel& ch) {
    ThreadProbe with_user, with_pid, control;
    ch.Record("newnet+newuser", CloneThread(CLONE_NEWNET | CLONE_NEWUSER, with_user));
    ch.Note("ran_newuser", with_user.thread_self[0] ? "yes" : "no");
    ch.Record("newnet+newpid", CloneThread(CLONE_NEWNET | CLONE_NEWPID, with_pid));
    ch.Record("newnet", CloneThread(CLONE_NEWNET, control));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("newnet+newuser"), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(child.notes["ran_newuser"], "no");
  EXPECT_THAT(child.Call("newnet+newpid"), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(child.Call("newnet"), SyscallSucceeds()) << "control: without CLONE_NEWUSER";
}

}  // namespace
}  // namespace conform
