#include "reports/expectations.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "reports/json_report.h"

namespace conform {

namespace {

using nlohmann::json;

[[noreturn]] void Reject(const std::string& where, const std::string& problem) {
  throw ReportError(where + ": " + problem);
}

// A value quoted for a message: JSON-escaped (one line) and shortened.
std::string Quote(const json& value) {
  constexpr size_t kMax = 60;
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

// Unknown fields are refused everywhere: a misspelt "reason_contains" or "kernels" would
// otherwise widen an expectation silently.
void RefuseUnknownFields(const json& object, const std::set<std::string>& known,
                         const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) Reject(where, "unknown field " + Quote(key));
  }
}

const json& RequireField(const json& object, const std::string& key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) Reject(where, "missing field \"" + key + "\"");
  return *it;
}

// A string that must not be empty (a glob, a reason, a link).
std::string NonEmptyString(const json& value, const std::string& where) {
  if (!value.is_string() || value.get<std::string>().empty())
    Reject(where, "is " + Quote(value) + ", expected a non-empty string");
  return value.get<std::string>();
}

std::string OptionalString(const json& object, const std::string& key, const std::string& where) {
  if (!object.contains(key)) return {};
  return NonEmptyString(object.at(key), where + "." + key);
}

bool IsHttpUrl(const std::string& text) {
  const bool scheme = text.starts_with("https://") || text.starts_with("http://");
  const bool blank_free = std::none_of(text.begin(), text.end(), [](char ch) {
    return static_cast<unsigned char>(ch) <= ' ' || ch == '"' || ch == '<' || ch == '>';
  });
  return scheme && blank_free && text.size() > std::string("https://").size();
}

KernelCondition KernelsFromJson(const json& value, const std::string& where) {
  if (!value.is_object()) Reject(where, "is " + Quote(value) + ", expected an object");
  RefuseUnknownFields(value, {"release", "features"}, where);
  KernelCondition kernels;
  if (value.contains("release")) {
    const json& releases = value.at("release");
    if (!releases.is_array() || releases.empty())
      Reject(where + ".release", "is " + Quote(releases) + ", expected a non-empty array of globs");
    for (size_t i = 0; i < releases.size(); ++i)
      kernels.releases.push_back(
          NonEmptyString(releases[i], where + ".release[" + std::to_string(i) + "]"));
  }
  if (value.contains("features")) {
    const json& features = value.at("features");
    if (!features.is_object() || features.empty())
      Reject(where + ".features", "is " + Quote(features) + ", expected an object of booleans");
    for (const auto& [name, wanted] : features.items()) {
      if (!wanted.is_boolean())
        Reject(where + ".features." + name, "is " + Quote(wanted) + ", expected true or false");
      kernels.features[name] = wanted.get<bool>();
    }
  }
  return kernels;
}

Expectation EntryFromJson(const json& value, const std::string& where) {
  if (!value.is_object()) Reject(where, "is " + Quote(value) + ", expected an object");
  RefuseUnknownFields(
      value, {"case", "tool", "kernels", "status", "reason_contains", "reason", "link"}, where);
  Expectation entry;
  entry.where = where;
  entry.case_glob = NonEmptyString(RequireField(value, "case", where), where + ".case");
  entry.tool_glob = OptionalString(value, "tool", where);
  if (value.contains("kernels"))
    entry.kernels = KernelsFromJson(value.at("kernels"), where + ".kernels");
  const json& status = RequireField(value, "status", where);
  const std::optional<Status> parsed =
      status.is_string() ? ParseStatus(status.get<std::string>()) : std::nullopt;
  // Only failures can be expected: a SKIP is no bug, a MISS is the harness's, and an expected
  // PASS is no expectation at all.
  if (!parsed ||
      (*parsed != Status::kFail && *parsed != Status::kError && *parsed != Status::kTimeout))
    Reject(where + ".status",
           "is " + Quote(status) + ", expected \"FAIL\", \"ERROR\" or \"TIMEOUT\"");
  entry.status = *parsed;
  entry.reason_contains = OptionalString(value, "reason_contains", where);
  entry.reason = NonEmptyString(RequireField(value, "reason", where), where + ".reason");
  entry.link = NonEmptyString(RequireField(value, "link", where), where + ".link");
  if (!IsHttpUrl(entry.link))
    Reject(where + ".link", "is " + Quote(entry.link) + ", expected an http(s) URL");
  return entry;
}

bool Matches(const std::string& glob, const std::string& text) {
  return fnmatch(glob.c_str(), text.c_str(), 0) == 0;
}

}  // namespace

Expectations ParseExpectations(const json& doc, const std::string& name) {
  if (!doc.is_object()) Reject(name, "top level is " + Quote(doc) + ", expected an object");
  RefuseUnknownFields(doc, {"expectations_version", "about", "expectations"}, name);
  const json& version = RequireField(doc, "expectations_version", name);
  if (!version.is_number_integer() || version.get<int64_t>() != kExpectationsVersion)
    Reject(name, "unsupported expectations_version " + Quote(version) +
                     " (this reader understands " + std::to_string(kExpectationsVersion) + ")");
  if (doc.contains("about") && !doc.at("about").is_string())
    Reject(name, "field \"about\" is " + Quote(doc.at("about")) + ", expected a string");
  const json& entries = RequireField(doc, "expectations", name);
  if (!entries.is_array())
    Reject(name, "field \"expectations\" is " + Quote(entries) + ", expected an array");
  Expectations expectations;
  for (size_t i = 0; i < entries.size(); ++i)
    expectations.entries.push_back(
        EntryFromJson(entries[i], name + ": expectations[" + std::to_string(i) + "]"));
  return expectations;
}

Expectations ReadExpectationsFiles(const std::vector<std::string>& paths) {
  Expectations all;
  for (const std::string& path : paths) {
    Expectations one = ParseExpectations(ReadJsonFile(path), path);
    all.entries.insert(all.entries.end(), one.entries.begin(), one.entries.end());
  }
  return all;
}

void CheckExpectationsMatch(const Expectations& expectations, const std::vector<CaseKey>& cases,
                            const std::map<std::string, bool>& features, const std::string& scope) {
  const bool suite_cases =
      std::any_of(cases.begin(), cases.end(), [](const CaseKey& c) { return c.second.empty(); });
  const bool tool_cases =
      std::any_of(cases.begin(), cases.end(), [](const CaseKey& c) { return !c.second.empty(); });
  for (const Expectation& entry : expectations.entries) {
    for (const auto& [name, wanted] : entry.kernels.features) {
      if (!features.empty() && !features.contains(name)) {
        std::string known;
        for (const auto& [feature, present] : features)
          known += (known.empty() ? "" : ", ") + feature;
        Reject(entry.where + ".kernels.features",
               "unknown feature " + Quote(name) + " (known: " + known + ")");
      }
    }
    const bool for_tools = !entry.tool_glob.empty();
    if (for_tools ? !tool_cases : !suite_cases) continue;
    const bool matched = std::any_of(cases.begin(), cases.end(), [&](const CaseKey& c) {
      if (for_tools != !c.second.empty()) return false;
      return Matches(entry.case_glob, c.first) &&
             (!for_tools || Matches(entry.tool_glob, c.second));
    });
    if (!matched) {
      Reject(entry.where + ".case",
             Quote(entry.case_glob) +
                 (for_tools ? " with tool " + Quote(entry.tool_glob) : std::string()) +
                 " matches no case of " + scope);
    }
  }
}

}  // namespace conform
