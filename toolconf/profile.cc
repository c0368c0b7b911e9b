#include "toolconf/profile.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace conform::toolconf {
namespace {

const std::vector<std::string> kPlaceholders = {"{name}", "{pid}",  "{nsid}", "{run_dir}",
                                                "{tool}", "{self}", "{cmd}",  "{profile_dir}"};

[[noreturn]] void Reject(const std::string& source, const std::string& what) {
  throw ProfileError(source + ": " + what);
}

// Every {word} in an element must be a known placeholder: a typo must not reach the tool.
void CheckPlaceholders(const std::string& source, const std::string& where,
                       const std::string& element) {
  static const std::regex braces(R"(\{[A-Za-z_]+\})");
  for (auto it = std::sregex_iterator(element.begin(), element.end(), braces);
       it != std::sregex_iterator(); ++it) {
    if (std::find(kPlaceholders.begin(), kPlaceholders.end(), it->str()) == kPlaceholders.end())
      Reject(source, where + ": unknown placeholder " + it->str());
  }
  if (element.find("{cmd}") != std::string::npos && element != "{cmd}")
    Reject(source, where + ": {cmd} must be a whole argv element (it expands to several)");
}

Argv ParseArgv(const nlohmann::json& value, const std::string& source, const std::string& where) {
  if (value.is_string())
    Reject(source, where + ": an argv array of strings is expected, not a shell string (\"" +
                       value.get<std::string>() + "\")");
  if (!value.is_array() || value.empty())
    Reject(source, where + ": a non-empty argv array of strings is expected");
  Argv argv;
  for (const auto& element : value) {
    if (!element.is_string()) Reject(source, where + ": every argv element must be a string");
    CheckPlaceholders(source, where, element.get<std::string>());
    argv.push_back(element.get<std::string>());
  }
  return argv;
}

std::vector<Argv> ParseOp(const nlohmann::json& value, const std::string& source,
                          const std::string& where) {
  // An array of arrays is a sequence of steps; an array of strings is one argv.
  if (value.is_array() && !value.empty() && value.front().is_array()) {
    std::vector<Argv> steps;
    for (size_t i = 0; i < value.size(); ++i)
      steps.push_back(ParseArgv(value[i], source, where + "[" + std::to_string(i) + "]"));
    return steps;
  }
  return {ParseArgv(value, source, where)};
}

}  // namespace

Profile ParseProfile(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) Reject(source, "a profile is a JSON object");
  static const std::vector<std::string> known = {"name",         "tool",       "profile_dir",
                                                 "version_argv", "probe_argv", "error_exit_codes",
                                                 "ops",          "comment"};
  for (const auto& [key, value] : doc.items()) {
    (void)value;
    if (std::find(known.begin(), known.end(), key) == known.end())
      Reject(source, "unknown field \"" + key + "\"");
  }
  Profile profile;
  if (!doc.contains("name") || !doc["name"].is_string())
    Reject(source, "\"name\" (a string) is required");
  profile.name = doc["name"].get<std::string>();
  static const std::regex name_re("[A-Za-z0-9_-]{1,64}");
  if (!std::regex_match(profile.name, name_re))
    Reject(source, "\"name\" must be 1-64 characters of [A-Za-z0-9_-]");
  if (doc.contains("tool")) {
    if (!doc["tool"].is_string()) Reject(source, "\"tool\" must be a string");
    profile.tool = doc["tool"].get<std::string>();
  }
  if (doc.contains("profile_dir") && doc["profile_dir"].is_string())
    profile.profile_dir = doc["profile_dir"].get<std::string>();
  if (doc.contains("version_argv"))
    profile.version_argv = ParseArgv(doc["version_argv"], source, "version_argv");
  if (doc.contains("probe_argv"))
    profile.probe_argv = ParseArgv(doc["probe_argv"], source, "probe_argv");
  if (doc.contains("error_exit_codes")) {
    const auto& codes = doc["error_exit_codes"];
    if (!codes.is_array() || codes.empty())
      Reject(source, "\"error_exit_codes\" must be a non-empty array of integers 1-255");
    profile.error_exit_codes.clear();
    for (const auto& code : codes) {
      if (!code.is_number_integer() || code.get<int>() < 1 || code.get<int>() > 255)
        Reject(source, "\"error_exit_codes\" must be a non-empty array of integers 1-255");
      profile.error_exit_codes.push_back(code.get<int>());
    }
  }
  if (!doc.contains("ops") || !doc["ops"].is_object() || doc["ops"].empty())
    Reject(source, "\"ops\" (an object mapping operations to argv arrays) is required");
  for (const auto& [op, value] : doc["ops"].items()) {
    if (std::find(kOps.begin(), kOps.end(), op) == kOps.end()) {
      std::string all;
      for (const auto& o : kOps) all += (all.empty() ? "" : ", ") + o;
      Reject(source, "ops: unknown operation \"" + op + "\" (known: " + all + ")");
    }
    profile.ops[op] = ParseOp(value, source, "ops." + op);
  }
  return profile;
}

Profile LoadProfileFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ProfileError(path + ": cannot read the profile");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) throw ProfileError(path + ": not valid JSON");
  Profile profile = ParseProfile(doc, path);
  profile.profile_dir = std::filesystem::absolute(path).parent_path().string();
  return profile;
}

nlohmann::json ProfileToJson(const Profile& profile) {
  nlohmann::json doc = {{"name", profile.name}, {"error_exit_codes", profile.error_exit_codes}};
  if (!profile.tool.empty()) doc["tool"] = profile.tool;
  if (!profile.profile_dir.empty()) doc["profile_dir"] = profile.profile_dir;
  if (!profile.version_argv.empty()) doc["version_argv"] = profile.version_argv;
  if (!profile.probe_argv.empty()) doc["probe_argv"] = profile.probe_argv;
  doc["ops"] = nlohmann::json::object();
  for (const auto& [op, steps] : profile.ops) doc["ops"][op] = steps;
  return doc;
}

Argv Expand(const Argv& step, const Bindings& b) {
  Argv out;
  for (const auto& element : step) {
    if (element == "{cmd}") {
      out.insert(out.end(), b.cmd.begin(), b.cmd.end());
      continue;
    }
    std::string text;
    for (size_t i = 0; i < element.size();) {
      bool replaced = false;
      for (const auto& [key, value] :
           std::initializer_list<std::pair<const char*, const std::string*>>{
               {"{name}", &b.name},
               {"{pid}", &b.pid},
               {"{nsid}", &b.nsid},
               {"{run_dir}", &b.run_dir},
               {"{tool}", &b.tool},
               {"{self}", &b.self},
               {"{profile_dir}", &b.profile_dir}}) {
        const std::string k = key;
        if (element.compare(i, k.size(), k) == 0) {
          text += *value;  // substituted text is never rescanned: a name may contain "{pid}"
          i += k.size();
          replaced = true;
          break;
        }
      }
      if (!replaced) text += element[i++];
    }
    out.push_back(text);
  }
  return out;
}

}  // namespace conform::toolconf
