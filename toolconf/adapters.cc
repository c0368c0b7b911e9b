#include "toolconf/adapters.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "toolconf/process.h"

namespace conform::toolconf {
namespace {

// ip-netns(8)'s command line: netns-ref promises the same one, so both share this shape.
// monitor runs under `stdbuf -oL`: iproute2 6.1 never flushes its monitor output (SEMANTICS.md
// B8.6), and a line stuck in a pipe buffer would read as "never reported".
std::string IpLikeProfile(const std::string& name, const std::string& prefix_json,
                          const std::string& version_json) {
  return R"({"name": ")" + name + R"(", "tool": "", "version_argv": )" + version_json +
         R"(, "error_exit_codes": [1, 2, 255], "ops": {
    "add": [)" +
         prefix_json + R"("add", "{name}"],
    "attach": [)" +
         prefix_json + R"("attach", "{name}", "{pid}"],
    "del": [)" +
         prefix_json + R"("del", "{name}"],
    "list": [)" +
         prefix_json + R"("list"],
    "list-id": [)" +
         prefix_json + R"("list-id"],
    "set": [)" +
         prefix_json + R"("set", "{name}", "{nsid}"],
    "identify": [)" +
         prefix_json + R"("identify", "{pid}"],
    "pids": [)" +
         prefix_json + R"("pids", "{name}"],
    "exec": [)" +
         prefix_json + R"("exec", "{name}", "{cmd}"],
    "monitor": ["stdbuf", "-oL", )" +
         prefix_json + R"("monitor"]
  }})";
}

std::string BuiltinJson(const std::string& name) {
  if (name == "ip") {
    auto text = IpLikeProfile("ip", R"("{tool}", "netns", )", R"(["{tool}", "-V"])");
    // -all is a global option of ip, before the object.
    auto doc = nlohmann::json::parse(text);
    doc["ops"]["del-all"] = {"{tool}", "-all", "netns", "del"};
    return doc.dump();
  }
  if (name == "netns-ref") {
    auto doc = nlohmann::json::parse(
        IpLikeProfile("netns-ref", R"("{tool}", )", R"(["{tool}", "--version"])"));
    doc["ops"]["del-all"] = {"{tool}", "-all", "del"};
    // fixtures/ref/README.md: 1 for its own errors; 126/127 for a command exec cannot run.
    doc["error_exit_codes"] = {1, 126, 127};
    return doc.dump();
  }
  if (name == "builtin-ref") {
    auto doc = nlohmann::json::parse(IpLikeProfile("builtin-ref", R"("{self}", "--builtin-ref", )",
                                                   R"(["{self}", "--version"])"));
    doc["ops"]["del-all"] = {"{self}", "--builtin-ref", "-all", "del"};
    // Its monitor flushes every line itself.
    doc["ops"]["monitor"] = {"{self}", "--builtin-ref", "monitor"};
    doc.erase("tool");
    return doc.dump();
  }
  if (name == "busybox") {
    auto doc = nlohmann::json::parse(
        IpLikeProfile("busybox", R"("{tool}", "ip", "netns", )", R"(["{tool}", "--help"])"));
    // busybox 1.35's ip has no netns object: the probe tells, and every case then SKIPs.
    doc["probe_argv"] = {"{tool}", "ip", "netns", "list"};
    doc["ops"]["del-all"] = {"{tool}", "ip", "-all", "netns", "del"};
    return doc.dump();
  }
  if (name == "util-linux") {
    // unshare --net=FILE bind-mounts onto an existing file only; there is no list, set,
    // identify, pids or monitor in util-linux for named netns.
    return R"({"name": "util-linux", "version_argv": ["unshare", "--version"],
      "error_exit_codes": [1, 32, 127], "ops": {
      "add": [["mkdir", "-p", "{run_dir}"], ["touch", "{run_dir}/{name}"],
              ["unshare", "--net={run_dir}/{name}", "true"]],
      "del": [["umount", "{run_dir}/{name}"], ["rm", "{run_dir}/{name}"]],
      "exec": ["nsenter", "--net={run_dir}/{name}", "{cmd}"]
    }})";
  }
  if (name == "pyroute2") {
    // Debian's python3-pyroute2 lives in /usr/lib/python3: use the system interpreter. Names and
    // commands travel in sys.argv, never inside the program text.
    const std::string py = R"("/usr/bin/python3", "-c", )";
    const std::string pre = "import os, sys\\nfrom pyroute2 import netns\\n";
    auto op = [&](const std::string& body, const std::string& args) {
      return "[" + py + "\"" + pre + body + "\"" + (args.empty() ? "" : ", " + args) + "]";
    };
    auto doc = nlohmann::json::parse(
        R"({"name": "pyroute2",
      "error_exit_codes": [1], "ops": {
      "add": )" +
        op("netns.create(sys.argv[1])", R"("{name}")") + R"(,
      "attach": )" +
        op("netns.attach(sys.argv[1], int(sys.argv[2]))", R"("{name}", "{pid}")") + R"(,
      "del": )" +
        op("netns.remove(sys.argv[1])", R"("{name}")") + R"(,
      "list": )" +
        op("for n in netns.listnetns(): print(n)", "") + R"(,
      "identify": )" +
        op("n = netns.pid_to_ns(int(sys.argv[1]))\\nprint(n if n else '')", R"("{pid}")") +
        R"(,
      "pids": )" +
        op("for p in netns.ns_pids().get(sys.argv[1], []): print(p)", R"("{name}")") + R"(,
      "exec": )" +
        op("netns.setns(sys.argv[1], flags=0)\\nos.execvp(sys.argv[2], sys.argv[2:])",
           R"("{name}", "{cmd}")") +
        R"(
    }})");
    doc["version_argv"] = {"/usr/bin/python3", "-c",
                           "import importlib.metadata as m\n"
                           "print('pyroute2', m.version('pyroute2'))"};
    return doc.dump();
  }
  return "";
}

bool ProgramExists(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

std::string AskVersion(const Profile& profile) {
  if (profile.version_argv.empty()) return "unknown";
  Bindings b;
  b.tool = profile.tool;
  b.profile_dir = profile.profile_dir;
  const auto argv = Expand(profile.version_argv, b);
  if (!ProgramExists(argv[0]) && argv[0] != "{self}") return "unknown";
  const auto outcome = Run(argv, std::chrono::seconds(10));
  if (outcome.status != 0) return "unknown";
  std::string text = outcome.out.empty() ? outcome.err : outcome.out;
  text = text.substr(0, text.find('\n'));
  if (text.empty()) return "unknown";
  return text.substr(0, 200);
}

}  // namespace

std::vector<std::string> BuiltinToolNames() {
  return {"netns-ref", "builtin-ref", "ip", "util-linux", "pyroute2", "busybox"};
}

std::optional<std::string> FindNetnsRef(const std::map<std::string, std::string>& tool_paths,
                                        const std::filesystem::path& runner_dir) {
  if (auto it = tool_paths.find("netns-ref"); it != tool_paths.end()) return it->second;
  if (const auto beside = runner_dir / "netns-ref"; access(beside.c_str(), X_OK) == 0)
    return beside.string();
  if (ProgramExists("netns-ref")) return "netns-ref";
  return std::nullopt;
}

ResolvedTool ResolveTool(const std::string& spec,
                         const std::map<std::string, std::string>& tool_paths,
                         const std::filesystem::path& runner_dir) {
  ResolvedTool resolved;
  const bool is_file = spec.size() > 5 && spec.substr(spec.size() - 5) == ".json";
  if (is_file) {
    resolved.profile = LoadProfileFile(spec);
  } else {
    const std::string text = BuiltinJson(spec);
    if (text.empty()) {
      std::string names;
      for (const auto& n : BuiltinToolNames()) names += (names.empty() ? "" : ", ") + n;
      throw ProfileError("unknown tool \"" + spec + "\" (built in: " + names +
                         "; or the path of a PROFILE.json)");
    }
    resolved.profile = ParseProfile(nlohmann::json::parse(text), "built-in " + spec);
  }
  Profile& p = resolved.profile;
  if (auto it = tool_paths.find(p.name); it != tool_paths.end()) p.tool = it->second;
  if (p.name == "netns-ref" && !is_file) {
    auto found = FindNetnsRef(tool_paths, runner_dir);
    if (found)
      p.tool = *found;
    else
      resolved.unavailable = "netns-ref is not built (looked beside the runner and on PATH)";
  } else if (p.tool.empty() && !is_file) {
    if (p.name == "ip") p.tool = "ip";
    if (p.name == "busybox") p.tool = "busybox";
  }
  // The program each op starts must exist; {self} (builtin-ref) always does.
  if (!resolved.unavailable) {
    for (const auto& [op, steps] : p.ops) {
      for (const auto& step : steps) {
        Bindings b;
        b.tool = p.tool;
        b.self = "{self}";
        b.profile_dir = p.profile_dir;
        const auto argv = Expand(step, b);
        if (argv[0] != "{self}" && !ProgramExists(argv[0])) {
          resolved.unavailable = "\"" + argv[0] + "\" (needed by " + op + ") is not installed";
          break;
        }
      }
      if (resolved.unavailable) break;
    }
  }
  resolved.version = resolved.unavailable ? "unknown" : AskVersion(p);
  // The reference implementations are this project's own: their version is the project's.
  if (p.name == "builtin-ref" ||
      (p.name == "netns-ref" && resolved.version == "unknown" && !resolved.unavailable))
    resolved.version = std::string("netns-conform ") + NETNS_CONFORM_VERSION;
  return resolved;
}

ResolvedTool ResolveReference(const std::map<std::string, std::string>& tool_paths,
                              const std::filesystem::path& runner_dir) {
  if (FindNetnsRef(tool_paths, runner_dir)) return ResolveTool("netns-ref", tool_paths, runner_dir);
  return ResolveTool("builtin-ref", tool_paths, runner_dir);
}

}  // namespace conform::toolconf
