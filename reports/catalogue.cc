#include "reports/catalogue.h"

#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace conform {

namespace {

using nlohmann::json;

[[noreturn]] void Reject(const std::string& message) { throw CatalogueError(message); }

// A value quoted for an error message, on one line and shortened.
std::string Quote(const json& value) {
  constexpr size_t kMax = 60;
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::string QuoteText(std::string_view text) { return Quote(json(std::string(text))); }

bool IsLowerAlnum(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); }
bool IsDigit(char ch) { return ch >= '0' && ch <= '9'; }

// [a-z0-9]+ words joined by single '-'.
bool IsSlug(std::string_view part) {
  if (part.empty() || part.front() == '-' || part.back() == '-') return false;
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i] == '-') {
      if (part[i + 1] == '-') return false;
    } else if (!IsLowerAlnum(part[i])) {
      return false;
    }
  }
  return true;
}

// "B" and digits: a SEMANTICS.md behaviour number.
bool IsBehaviourNumber(std::string_view part) {
  if (part.size() < 2 || part.front() != 'B') return false;
  for (char ch : part.substr(1))
    if (!IsDigit(ch)) return false;
  return true;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Checks that `object` (at `where`) has only the allowed keys.
void CheckKeys(const json& object, const std::string& where,
               std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) Reject(where + ": unknown field " + QuoteText(key));
  }
}

std::string RequireString(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) Reject(where + ": missing field \"" + key + "\"");
  if (!it->is_string()) Reject(where + ": field \"" + key + "\" is not a string");
  std::string value = it->get<std::string>();
  if (value.empty()) Reject(where + ": field \"" + key + "\" is empty");
  return value;
}

CatalogueDocument DocumentFromJson(const json& value, size_t index) {
  std::string where = "documents[" + std::to_string(index) + "]";
  if (!value.is_object()) Reject(where + " is not an object");
  if (value.contains("id") && value["id"].is_string()) where += " (" + Quote(value["id"]) + ")";
  CheckKeys(value, where, {"id", "title", "source", "internal"});
  CatalogueDocument document;
  document.id = RequireString(value, "id", where);
  document.title = RequireString(value, "title", where);
  document.source = RequireString(value, "source", where);
  if (value.contains("internal")) {
    if (!value["internal"].is_boolean()) Reject(where + ": field \"internal\" is not a boolean");
    document.internal = value["internal"].get<bool>();
  }
  if (!IsWellFormedDocumentId(document.id)) Reject(where + ": ill-formed document id");
  return document;
}

Clause ClauseFromJson(const json& value, size_t index) {
  std::string where = "clauses[" + std::to_string(index) + "]";
  if (!value.is_object()) Reject(where + " is not an object");
  if (value.contains("id") && value["id"].is_string()) where += " (" + Quote(value["id"]) + ")";
  CheckKeys(value, where, {"id", "document", "section", "text", "untestable"});
  Clause clause;
  clause.id = RequireString(value, "id", where);
  clause.document = RequireString(value, "document", where);
  clause.section = RequireString(value, "section", where);
  clause.text = RequireString(value, "text", where);
  if (value.contains("untestable")) {
    clause.untestable = RequireString(value, "untestable", where);
    if (clause.untestable.find_first_not_of(" \t\n") == std::string::npos)
      Reject(where + ": field \"untestable\" holds no reason");
  }
  if (!IsWellFormedClauseId(clause.id))
    Reject(where +
           ": ill-formed clause id (lower-case dotted, e.g. netns7.veth.destroyed-with-ns)");
  return clause;
}

}  // namespace

bool IsWellFormedClauseId(std::string_view id) {
  const auto parts = Split(id, '.');
  if (parts.size() < 2) return false;
  if (parts.front().empty() || !(parts.front()[0] >= 'a' && parts.front()[0] <= 'z')) return false;
  for (std::string_view part : parts)
    if (!IsSlug(part) && !IsBehaviourNumber(part)) return false;
  return IsSlug(parts.front());
}

bool IsWellFormedDocumentId(std::string_view id) {
  const size_t dash = id.find('-');
  const std::string_view family = id.substr(0, dash);
  if (family.empty() || !(family[0] >= 'a' && family[0] <= 'z')) return false;
  for (char ch : family)
    if (!IsLowerAlnum(ch)) return false;
  if (dash == std::string_view::npos) return true;
  for (std::string_view number : Split(id.substr(dash + 1), '.')) {
    if (number.empty()) return false;
    for (char ch : number)
      if (!IsDigit(ch)) return false;
  }
  return true;
}

std::string DocumentFamily(std::string_view document_id) {
  return std::string(document_id.substr(0, document_id.find('-')));
}

Catalogue Catalogue::Parse(std::string_view json_text) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    std::string text = e.what();
    for (char& ch : text)
      if (ch == '\n' || ch == '\r') ch = ' ';
    Reject("not valid JSON: " + text);
  }
  if (!doc.is_object()) Reject("the top level is not an object");
  CheckKeys(doc, "the top level", {"catalogue_version", "documents", "clauses"});
  if (!doc.contains("catalogue_version")) Reject("missing field \"catalogue_version\"");
  const json& version = doc["catalogue_version"];
  if (!version.is_number_integer() || version.get<int64_t>() != kCatalogueVersion) {
    Reject("unsupported catalogue_version " + Quote(version) + " (this reader understands " +
           std::to_string(kCatalogueVersion) + ")");
  }
  for (const char* key : {"documents", "clauses"}) {
    if (!doc.contains(key)) Reject(std::string("missing field \"") + key + "\"");
    if (!doc[key].is_array()) Reject(std::string("field \"") + key + "\" is not an array");
  }

  Catalogue catalogue;
  std::set<std::string, std::less<>> document_ids;
  for (size_t i = 0; i < doc["documents"].size(); ++i) {
    CatalogueDocument document = DocumentFromJson(doc["documents"][i], i);
    if (!document_ids.insert(document.id).second)
      Reject("documents[" + std::to_string(i) + "]: duplicate document id " +
             QuoteText(document.id));
    catalogue.documents_.push_back(std::move(document));
  }
  for (size_t i = 0; i < doc["clauses"].size(); ++i) {
    Clause clause = ClauseFromJson(doc["clauses"][i], i);
    const std::string where = "clauses[" + std::to_string(i) + "] (" + QuoteText(clause.id) + ")";
    if (!document_ids.contains(clause.document))
      Reject(where + ": unknown document " + QuoteText(clause.document));
    const std::string prefix = DocumentFamily(clause.document) + ".";
    if (clause.id.rfind(prefix, 0) != 0) {
      Reject(where + ": ids of document " + QuoteText(clause.document) + " start with " +
             QuoteText(prefix));
    }
    if (!catalogue.clause_index_.emplace(clause.id, catalogue.clauses_.size()).second)
      Reject(where + ": duplicate clause id");
    catalogue.clauses_.push_back(std::move(clause));
  }
  return catalogue;
}

const Clause* Catalogue::Find(std::string_view id) const {
  auto it = clause_index_.find(id);
  return it == clause_index_.end() ? nullptr : &clauses_[it->second];
}

const CatalogueDocument* Catalogue::FindDocument(std::string_view id) const {
  for (const auto& document : documents_)
    if (document.id == id) return &document;
  return nullptr;
}

std::vector<const Clause*> Catalogue::ClausesOf(std::string_view document) const {
  std::vector<const Clause*> found;
  for (const auto& clause : clauses_)
    if (clause.document == document) found.push_back(&clause);
  return found;
}

const Catalogue& LoadCatalogue() {
  static const Catalogue catalogue = [] {
    try {
      return Catalogue::Parse(EmbeddedCatalogueText());
    } catch (const CatalogueError& e) {
      throw CatalogueError(std::string("the embedded clause catalogue is broken: ") + e.what());
    }
  }();
  return catalogue;
}

const char* CoverageName(Coverage coverage) {
  switch (coverage) {
    case Coverage::kCovered:
      return "covered";
    case Coverage::kUntestable:
      return "untestable";
    case Coverage::kUncovered:
      return "uncovered";
  }
  return "unknown";
}

CoverageReport ComputeCoverage(const Catalogue& catalogue, const std::vector<CaseClause>& cases) {
  std::map<std::string, std::vector<std::string>, std::less<>> cases_of;
  CoverageReport report;
  for (const CaseClause& named : cases) {
    if (catalogue.Find(named.clause) == nullptr) {
      report.unknown_clauses.push_back(named);
    } else {
      cases_of[named.clause].push_back(named.case_id);
    }
  }
  for (const CatalogueDocument& document : catalogue.documents()) {
    DocumentCoverage entry{.document = &document};
    for (const Clause* clause : catalogue.ClausesOf(document.id)) {
      ClauseCoverage coverage{.clause = clause};
      if (auto it = cases_of.find(clause->id); it != cases_of.end()) coverage.cases = it->second;
      if (!coverage.cases.empty()) {
        coverage.coverage = Coverage::kCovered;
        ++entry.covered;
        if (clause->IsUntestable()) report.untestable_but_covered.push_back(clause);
      } else if (clause->IsUntestable()) {
        coverage.coverage = Coverage::kUntestable;
        ++entry.untestable;
      } else {
        ++entry.uncovered;
      }
      entry.clauses.push_back(std::move(coverage));
    }
    if (!document.internal) {
      report.covered += entry.covered;
      report.untestable += entry.untestable;
      report.uncovered += entry.uncovered;
    }
    report.documents.push_back(std::move(entry));
  }
  return report;
}

}  // namespace conform
