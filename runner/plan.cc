#include "runner/plan.h"

#include <fnmatch.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <nlohmann/json.hpp>

#include "fixtures/requirements.h"

namespace bp = boost::process;

namespace conform {
namespace {

Requirements RequirementsFromJson(const nlohmann::json& j) {
  Requirements needs;
  needs.root = j.value("root", true);
  needs.net_ns = j.value("net_ns", true);
  needs.kconfigs = j.value("kconfigs", std::vector<std::string>{});
  needs.refundable_device = j.value("refundable_device", false);
  needs.initial_pid_ns = j.value("initial_pid_ns", false);
  needs.alone = j.value("alone", false);
  return needs;
}

}  // namespace

std::filesystem::path DefaultSuiteBinary() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "netns-conform-suite";
}

std::vector<PlannedCase> ListSuiteCases(const std::filesystem::path& suite_binary) {
  if (!std::filesystem::exists(suite_binary))
    throw InfrastructureError("suite binary not found: " + suite_binary.string());
  if (access(suite_binary.c_str(), X_OK) != 0)
    throw InfrastructureError("suite binary is not executable: " + suite_binary.string());
  bp::ipstream out;
  bp::child lister(suite_binary.string(), "--netns_conform_list", bp::std_out > out,
                   bp::std_err > bp::null);
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  lister.wait();
  if (lister.exit_code() != 0)
    throw InfrastructureError(suite_binary.string() + " --netns_conform_list exited with " +
                              std::to_string(lister.exit_code()));
  std::vector<PlannedCase> cases;
  try {
    for (const auto& entry : nlohmann::json::parse(text)) {
      PlannedCase planned{entry.at("id"), entry.at("clause"), std::nullopt};
      const Requirements needs = RequirementsFromJson(entry.at("requires"));
      planned.skip_reason = UnmetRequirement(needs);
      planned.initial_pid_ns = needs.initial_pid_ns;
      planned.alone = needs.alone;
      cases.push_back(std::move(planned));
    }
  } catch (const nlohmann::json::exception& e) {
    throw InfrastructureError("cannot read the case list of " + suite_binary.string() + ": " +
                              e.what());
  }
  return cases;
}

std::vector<PlannedCase> FilterCases(const std::vector<PlannedCase>& cases,
                                     const std::vector<std::string>& globs) {
  if (globs.empty()) return cases;
  std::vector<bool> used(globs.size(), false);
  std::vector<PlannedCase> kept;
  for (const auto& planned : cases) {
    bool match = false;
    for (size_t i = 0; i < globs.size(); ++i) {
      if (fnmatch(globs[i].c_str(), planned.id.c_str(), 0) == 0) match = used[i] = true;
    }
    if (match) kept.push_back(planned);
  }
  for (size_t i = 0; i < globs.size(); ++i) {
    if (!used[i])
      throw UsageError("--filter '" + globs[i] + "' matches no case (see `netns-conform list`)");
  }
  return kept;
}

Shard ParseShard(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return UsageError("--shard '" + text + "': " + why + " (expected K/N, 1 <= K <= N)");
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad("no '/'");
  const auto number = [&](const std::string& digits) {
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      throw bad("'" + digits + "' is not a whole number up to 10000");
    return std::stoi(digits);
  };
  Shard shard{number(text.substr(0, slash)), number(text.substr(slash + 1))};
  if (shard.count < 1 || shard.count > 10000) throw bad("N must be in 1..10000");
  if (shard.index < 1 || shard.index > shard.count) throw bad("K must be in 1..N");
  return shard;
}

std::vector<PlannedCase> ShardCases(const std::vector<PlannedCase>& cases, const Shard& shard) {
  if (!shard.active()) return cases;
  std::vector<PlannedCase> kept;
  for (size_t i = 0; i < cases.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(shard.count)) + 1 == shard.index)
      kept.push_back(cases[i]);
  return kept;
}

}  // namespace conform
