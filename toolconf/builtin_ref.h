// The in-process reference used when netns-ref is not built: the ip-netns(8) conventions from
// raw syscalls (SEMANTICS.md §8), with ip's command line and exit codes, plus a monitor that
// reports names (nsfs mounts appearing and going in the run folder), not any file.
#pragma once

namespace conform::toolconf {

// argv[0] is the operation ("add", "del", ...; "-all" may come first). Returns the exit status.
int BuiltinRefMain(int argc, char** argv);

}  // namespace conform::toolconf
