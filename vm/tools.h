// Child processes of the VM sandbox: every one is started by Boost.Process from an argv array
// (never a shell string), in its own process group, and dies with the thread that started it
// (PR_SET_PDEATHSIG): a killed runner leaves no apt-get, depmod or qemu behind.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>  // also for Boost 1.74's asio, which uses std::exchange unincluded
#include <vector>

namespace conform::vm {

struct ToolResult {
  int exit_code = -1;  // -1: killed by the timeout or a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

struct ToolOptions {
  std::filesystem::path cwd;  // empty: the caller's
  std::chrono::seconds timeout{600};
  std::vector<std::pair<std::string, std::string>> env;  // added to the caller's environment
};

// The executable `name` resolves to on PATH (a name with a '/' is taken as it is); nullopt when
// there is none.
std::optional<std::filesystem::path> FindTool(const std::string& name);

// Runs argv[0] (looked up on PATH) with the rest as its arguments, stdin from /dev/null,
// collecting stdout and stderr. Throws VmError when the tool is missing (naming the Debian
// package in `package`, when given) or cannot be started; a non-zero exit is returned, not thrown.
ToolResult RunTool(const std::vector<std::string>& argv, const ToolOptions& options = {},
                   const std::string& package = "");

// RunTool, and VmError("<what>: <argv[0]> exited with N: <last stderr line>") unless it exits 0.
ToolResult RunToolChecked(const std::vector<std::string>& argv, const std::string& what,
                          const ToolOptions& options = {}, const std::string& package = "");

// Reads a whole file; VmError naming the path on failure.
std::string ReadFile(const std::filesystem::path& path);
// Writes a file through a temporary name in the same folder and a rename.
void WriteFileReplacing(const std::filesystem::path& path, const std::string& content,
                        unsigned mode = 0644);

// A 128-bit content hash (two FNV-1a 64 streams) as 32 hex digits: cache keys, not security.
class ContentHash {
 public:
  void Add(std::string_view bytes);
  void AddField(std::string_view field);  // length-prefixed, so fields cannot run together
  std::string Hex() const;

 private:
  unsigned long long a_ = 0xcbf29ce484222325ULL;
  unsigned long long b_ = 0x84222325cbf29ce4ULL;
};

}  // namespace conform::vm
