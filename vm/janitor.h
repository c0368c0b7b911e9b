// The reuse sandbox's janitor: the supervisor's parent, which cleans up after it however it
// ends (vm/reuse.h says what each process of a guest does).
#pragma once

#include "vm/supervisor.h"

namespace conform::vm {

// Forks the supervisor (its own process group, stdio to supervisor.log) and waits for it; then
// kills what is left of its group, reaps it and removes the state folder. Never returns.
[[noreturn]] void JanitorMain(SupervisorConfig config);

}  // namespace conform::vm
