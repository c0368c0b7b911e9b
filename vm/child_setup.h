// Runs in every child the VM library forks, before exec, and in the children the runner starts
// for its cases (runner/exec_launcher.cc, runner/fork_server_client.cc): a process group of its
// own, so a watchdog kills the child and everything it started; SIGKILL when the starting thread
// dies; an empty signal mask (the runner blocks signals for its signalfd).
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/extend.hpp>

namespace conform::vm {

struct ChildSetup : boost::process::extend::handler {
  explicit ChildSetup(pid_t starter) : parent(starter) {}
  pid_t parent;  // getpid() of the starter: if it is already gone, the child must not run

  template <class Executor>
  void on_exec_setup(Executor&) const {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
  }
};

}  // namespace conform::vm
