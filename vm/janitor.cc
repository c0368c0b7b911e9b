// The reuse sandbox's janitor: see vm/janitor.h.
#include "vm/janitor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <thread>

#include "vm/guest_state.h"
#include "vm/processes.h"

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace conform::vm {

[[noreturn]] void JanitorMain(SupervisorConfig config) {
  prctl(PR_SET_NAME, "ncvm-janitor");
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  RedirectStdio({});
  const pid_t supervisor = fork();
  if (supervisor == 0) {
    setpgid(0, 0);
    prctl(PR_SET_NAME, "ncvm-supervise");
    RedirectStdio(config.dir / "supervisor.log");
    CloseFdsExcept({config.lock_fd, config.ready_fd});
    const fs::path dir = config.dir;
    int status = 1;
    try {
      status = Supervisor(std::move(config)).Run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "supervisor: %s\n", e.what());
      RemoveDir(dir);
    }
    _exit(status);
  }
  if (supervisor < 0) {
    WriteAll(config.ready_fd, "FAIL cannot fork the supervisor: " + Errno(errno) + "\n");
    RemoveDir(config.dir);
    _exit(1);
  }
  setpgid(supervisor, supervisor);  // as the child does: no window where it shares ours
  CloseFdsExcept({});
  int status = 0;
  while (true) {
    const pid_t p = waitpid(-1, &status, 0);
    if (p == supervisor || (p < 0 && errno == ECHILD)) break;
  }
  // qemu has PR_SET_PDEATHSIG; the group kill also takes anything else the supervisor left.
  kill(-supervisor, SIGKILL);
  const auto deadline = Clock::now() + milliseconds(10000);
  while (Clock::now() < deadline) {
    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
    if (kill(-supervisor, 0) != 0 && errno == ESRCH) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
  CleanIfStale(config.dir);
  RemoveEmptyRoot();
  _exit(0);
}

}  // namespace conform::vm
