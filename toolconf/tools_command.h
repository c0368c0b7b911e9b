// `netns-conform tools`: every tool scenario against each tool, each (tool, scenario) a case of
// its own in a fresh sandbox, with the usual reports plus a per-tool summary of deviations.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace conform {

struct ToolsOptions {
  std::vector<std::string> tools;  // built-in names or PROFILE.json paths; empty: all built-ins
  std::vector<std::string> tool_paths;  // "PATH" (for ip) or "NAME=PATH"
  std::vector<std::string> filters;     // globs over Tools.<scenario>
  int jobs = 0;                         // 0: one per online CPU
  double timeout_s = 120;
  std::filesystem::path out_dir = "netns-conform-tools-results";
  // `--expect FILE`s: only their entries with a "tool" glob apply to tool cases.
  std::vector<std::string> expect_files;
};

// Exit status as `run`: 0 nothing failed, 1 a case failed/errored/timed out/was missed.
// Throws UsageError (unknown tool, bad profile) or InfrastructureError before anything runs.
int ToolsCommand(const ToolsOptions& options);

}  // namespace conform
