// netns-conform-tool-scenarios: runs one tool scenario for one tool against the reference, as a
// case of `netns-conform tools` (started by the runner inside sandbox-exec, so everything here
// happens in a throwaway PID, mount and network namespace).
//   --gtest_filter=Tools.SCENARIO     which scenario (the runner's usual case argument)
//   --netns_conform_result_fd=N       where the one JSON result line goes
//   --tool-json=JSON --ref-json=JSON  the resolved profiles of the tool and of the reference
//   --tool-version=V --ref-version=V  their versions, for the reason text
// Also: --builtin-ref OP ARGS... (the in-process reference's command line), --version.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "fixtures/sandbox_mounts.h"
#include "toolconf/builtin_ref.h"
#include "toolconf/process.h"
#include "toolconf/profile.h"
#include "toolconf/scenarios.h"

namespace conform::toolconf {
namespace {

using json = nlohmann::json;

// Runs fn in a forked child (its own world: Side::Enter unshares) and returns the JSON it
// produced; the child's namespaces, holders and monitors die with it.
json InChild(const std::function<json()>& fn) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return json{{"harness error", "pipe2"}};
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    json result;
    try {
      result = fn();
    } catch (const std::exception& e) {
      result = json::array({{{"step", "harness error"}, {"observed", e.what()}}});
    }
    const std::string text = result.dump();
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(pipefd[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    std::fflush(stdout);
    _exit(0);
  }
  close(pipefd[1]);
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof(buf))) > 0;) text.append(buf, n);
  close(pipefd[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded())
    return json::array({{{"step", "harness error"},
                         {"observed", "the side ended without a trace (wait status " +
                                          std::to_string(status) + ")"}}});
  return parsed;
}

json RunSide(const Scenario& scenario, const Profile& profile, const std::string& self) {
  return InChild([&] {
    Side side(profile, self);
    if (auto error = side.Enter(scenario.start); !error.empty())
      return json::array({{{"step", "harness error"}, {"observed", error}}});
    try {
      scenario.body(side);
    } catch (const std::exception& e) {
      side.Note("harness error", e.what());
    }
    return side.TakeTrace();
  });
}

// The probe runs in a world of its own too: a probe is a tool command like any other.
std::string Probe(const Profile& profile, const std::string& self) {
  if (profile.probe_argv.empty()) return "";
  json answer = InChild([&] {
    Side side(profile, self);
    if (auto error = side.Enter(StartState::kMissing); !error.empty()) return json(error);
    Bindings b;
    b.tool = profile.tool;
    b.self = self;
    b.profile_dir = profile.profile_dir;
    const auto argv = Expand(profile.probe_argv, b);
    const Outcome o = Run(argv);
    if (o.status == 0) return json("");
    // busybox opens its usage text with a banner: the "Usage:" line says more.
    std::string first = o.err.substr(0, o.err.find('\n'));
    if (const auto usage = o.err.find("Usage:"); usage != std::string::npos)
      first = o.err.substr(usage, o.err.find('\n', usage) - usage);
    return json("`" + ShowArgv(argv) + "` gives " + o.DescribeExit() +
                (first.empty() ? "" : ": " + first));
  });
  return answer.is_string() ? answer.get<std::string>() : answer.dump();
}

std::string Joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// The tool's own words at the first step whose exit, stderr or output differs (else the first
// differing step): its argv, exit and stderr.
std::string FirstDifferingDetail(const json& tool_trace, const std::vector<std::string>& diffs) {
  std::string first_diff = diffs.front();
  for (const auto& d : diffs) {
    if (d.find("\": exit:") != std::string::npos ||
        d.find("\": stderr_reported:") != std::string::npos ||
        d.find("\": output:") != std::string::npos) {
      first_diff = d;
      break;
    }
  }
  const auto open = first_diff.find('"');
  const auto close = first_diff.find("\": ", open + 1);
  if (open == std::string::npos || close == std::string::npos) return "";
  const std::string label = first_diff.substr(open + 1, close - open - 1);
  for (const auto& step : tool_trace) {
    if (step.value("step", "") != label || !step.contains("detail")) continue;
    const auto& d = step["detail"];
    std::string text = "tool at \"" + label + "\": ";
    if (d.contains("argv")) text += d["argv"].get<std::string>() + " -> " + d.value("result", "");
    std::string err = d.value("stderr", "");
    if (!err.empty()) text += ", stderr: " + err.substr(0, 300);
    return text;
  }
  return "";
}

int Main(int argc, char** argv) {
  std::string filter, result_path, tool_json, ref_json, tool_version = "unknown",
                                                        ref_version = "unknown";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* prefix) -> std::optional<std::string> {
      if (arg.rfind(prefix, 0) == 0) return arg.substr(std::strlen(prefix));
      return std::nullopt;
    };
    if (arg == "--builtin-ref") return BuiltinRefMain(argc - i - 1, argv + i + 1);
    if (arg == "--version") {
      std::printf("netns-conform builtin-ref %s\n", NETNS_CONFORM_VERSION);
      return 0;
    }
    if (auto v = value("--gtest_filter="))
      filter = *v;
    else if (auto v = value("--netns_conform_result_fd="))
      result_path = "/proc/self/fd/" + *v;
    else if (auto v = value("--netns_conform_result="))
      result_path = *v;
    else if (auto v = value("--tool-json="))
      tool_json = *v;
    else if (auto v = value("--ref-json="))
      ref_json = *v;
    else if (auto v = value("--tool-version="))
      tool_version = *v;
    else if (auto v = value("--ref-version="))
      ref_version = *v;
    else {
      std::cerr << "netns-conform-tool-scenarios: unknown argument: " << arg << "\n";
      return 2;
    }
  }
  // Started by hand rather than by the runner: private mount and network namespaces (and /tmp,
  // where the sides keep their working folders) before anything runs, as the suite binary does.
  if (!std::getenv(kInSandboxEnv) && geteuid() == 0) {
    if (auto error = EnterSelfSandbox(); !error.empty()) {
      std::cerr << "netns-conform-tool-scenarios: cannot enter a private sandbox: " << error
                << "\n";
      return 2;
    }
  }
  const std::string name = filter.rfind("Tools.", 0) == 0 ? filter.substr(6) : filter;
  const Scenario* scenario = FindScenario(name);
  if (!scenario || tool_json.empty() || ref_json.empty()) {
    std::cerr << "netns-conform-tool-scenarios: need --gtest_filter=Tools.SCENARIO, --tool-json "
                 "and --ref-json (unknown scenario \""
              << name << "\"?)\n";
    return 2;
  }
  const Profile tool = ParseProfile(json::parse(tool_json), "--tool-json");
  const Profile ref = ParseProfile(json::parse(ref_json), "--ref-json");
  char self_buf[4096] = {};
  const ssize_t len = readlink("/proc/self/exe", self_buf, sizeof(self_buf) - 1);
  const std::string self = len > 0 ? std::string(self_buf, len) : argv[0];
  const auto start = std::chrono::steady_clock::now();

  std::string status = "PASS", reason;
  std::vector<std::string> missing;
  for (const auto& op : scenario->needs)
    if (!tool.Supports(op)) missing.push_back(op);
  if (!missing.empty()) {
    status = "SKIP";
    reason = "unsupported by " + tool.name + ": no " + Joined(missing, ", ") + " operation";
  } else if (auto probe = Probe(tool, self); !probe.empty()) {
    status = "SKIP";
    reason = "unsupported by " + tool.name + " (" + tool_version + "): " + probe;
  } else {
    const json ref_trace = RunSide(*scenario, ref, self);
    const json tool_trace = RunSide(*scenario, tool, self);
    std::cout << "=== reference " << ref.name << " (" << ref_version << ") ===\n"
              << ref_trace.dump(1) << "\n=== tool " << tool.name << " (" << tool_version
              << ") ===\n"
              << tool_trace.dump(1) << "\n";
    Expect ref_expect, tool_expect;
    scenario->expect(TraceView(ref_trace), ref_expect);
    scenario->expect(TraceView(tool_trace), tool_expect);
    const auto diffs = CompareTraces(ref_trace, tool_trace);
    const bool is_reference = tool.name == ref.name;
    if (!ref_expect.failures().empty()) {
      status = is_reference ? "FAIL" : "ERROR";
      reason =
          "the reference " + ref.name + " (" + ref_version +
          ") does not meet the scenario's expectations: " + Joined(ref_expect.failures(), "; ");
      if (!is_reference) reason += "; so " + tool.name + " cannot be judged against it";
    } else if (!diffs.empty()) {
      status = "FAIL";
      reason = tool.name + " (" + tool_version + ") deviates from the reference " + ref.name +
               " (" + ref_version + ")";
      reason += tool_expect.failures().empty()
                    ? ": the observable state differs"
                    : "; not met: " + Joined(tool_expect.failures(), "; ");
      reason += "\nstate, reference | tool:";
      for (size_t i = 0; i < diffs.size() && i < 25; ++i) reason += "\n  " + diffs[i];
      if (diffs.size() > 25) reason += "\n  ... " + std::to_string(diffs.size() - 25) + " more";
      const auto detail = FirstDifferingDetail(tool_trace, diffs);
      if (!detail.empty()) reason += "\n" + detail;
    }
  }
  json line = {{"id", "Tools." + scenario->name},
               {"clause", scenario->clause},
               {"status", status},
               {"duration_s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  if (!reason.empty()) line["reason"] = reason;
  std::cout << "result: " << status << (reason.empty() ? "" : ": " + reason) << "\n";
  std::cout.flush();
  if (!result_path.empty()) {
    const std::string text = line.dump() + "\n";
    const int fd = open(result_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      std::cerr << "cannot write the result: " << std::strerror(errno) << "\n";
    if (fd >= 0) close(fd);
  }
  return 0;
}

}  // namespace
}  // namespace conform::toolconf

int main(int argc, char** argv) {
  // A monitor stopped by SIGTERM must not take us with it through a shared pipe.
  signal(SIGPIPE, SIG_IGN);
  try {
    return conform::toolconf::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "netns-conform-tool-scenarios: " << e.what() << "\n";
    return 2;
  }
}
