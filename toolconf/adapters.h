// The built-in tool adapters (profiles compiled in) and how a `--tool` argument becomes a
// resolved profile: a built-in name, or the path of a user's PROFILE.json.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "toolconf/profile.h"

namespace conform::toolconf {

// "netns-ref", "builtin-ref", "ip", "util-linux", "pyroute2", "busybox".
std::vector<std::string> BuiltinToolNames();

// A tool ready to run: its profile, whether its program exists, and its version.
struct ResolvedTool {
  Profile profile;
  std::string version;                     // "unknown" when it cannot be asked
  std::optional<std::string> unavailable;  // why every case of it SKIPs (missing, probe failed)
};

// Resolves `spec` (a built-in name, or a path ending in .json). tool_paths maps a tool name to
// the program {tool} stands for ("ip" -> "/sbin/ip"); runner_dir is the folder of netns-conform
// (netns-ref is looked for beside it). Throws ProfileError for an unknown name or a bad profile.
ResolvedTool ResolveTool(const std::string& spec,
                         const std::map<std::string, std::string>& tool_paths,
                         const std::filesystem::path& runner_dir);

// The reference: netns-ref when its binary can be found, else the in-process builtin-ref.
ResolvedTool ResolveReference(const std::map<std::string, std::string>& tool_paths,
                              const std::filesystem::path& runner_dir);

// netns-ref's binary: tool_paths["netns-ref"], beside the runner (where the build puts it),
// or PATH; nullopt when none exists.
std::optional<std::string> FindNetnsRef(const std::map<std::string, std::string>& tool_paths,
                                        const std::filesystem::path& runner_dir);

}  // namespace conform::toolconf
