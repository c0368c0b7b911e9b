// A tool profile: how to drive one netns tool, described as data. Every operation is an argv
// template (or a short sequence of them), never a shell string, so a name full of shell
// metacharacters reaches the tool as exactly one argument.
//
// JSON form (toolconf/profiles/*.json are examples):
//   {
//     "name": "my-tool",                       // [A-Za-z0-9_-]+, used in reports
//     "version_argv": ["my-tool", "--version"], // optional: first output line is the version
//     "probe_argv": ["my-tool", "netns", "list"],// optional: a nonzero exit marks every op
//     unsupported "error_exit_codes": [1, 255],             // the exit codes the tool uses for
//     refused requests "ops": {                                  // the supported operations, any
//     subset of kOps
//       "add": ["my-tool", "add", "{name}"],    // one argv ...
//       "del": [["umount", "{run_dir}/{name}"], ["rm", "{run_dir}/{name}"]]  // ... or steps
//     }
//   }
// Placeholders, substituted inside an element: {name} {pid} {nsid} {run_dir} {tool} {self}
// {profile_dir} (the folder of the profile file, for a wrapper shipped beside it).
// {cmd} must be a whole element and expands to the command's argv (exec only).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace conform::toolconf {

// Every operation a profile may define, in ip-netns(8) words.
inline const std::vector<std::string> kOps = {"add",  "attach",  "del",    "del-all",
                                              "list", "list-id", "set",    "identify",
                                              "pids", "exec",    "monitor"};

// A malformed profile: one line naming the field and what is wrong with it.
class ProfileError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Argv = std::vector<std::string>;

struct Profile {
  std::string name;
  std::string tool;         // what {tool} expands to (e.g. the path of `ip`); may be empty
  std::string profile_dir;  // what {profile_dir} expands to (set when loaded from a file)
  Argv version_argv;
  Argv probe_argv;
  std::vector<int> error_exit_codes = {1};
  std::map<std::string, std::vector<Argv>> ops;  // op -> one or more argv steps

  bool Supports(const std::string& op) const { return ops.count(op) != 0; }
};

// What a template's placeholders stand for in one invocation.
struct Bindings {
  std::string name, pid, nsid, run_dir = "/run/netns", tool, self, profile_dir;
  Argv cmd;
};

// Parses and validates a profile; `source` names it in error messages. Throws ProfileError.
Profile ParseProfile(const nlohmann::json& doc, const std::string& source);
// Reads and parses a profile file. Throws ProfileError (unreadable, not JSON, invalid).
Profile LoadProfileFile(const std::string& path);
// The profile as JSON again (how the runner hands a resolved tool to the scenario binary).
nlohmann::json ProfileToJson(const Profile& profile);

// One step's argv with the placeholders substituted. Throws ProfileError on {cmd} misuse.
Argv Expand(const Argv& step, const Bindings& bindings);

}  // namespace conform::toolconf
