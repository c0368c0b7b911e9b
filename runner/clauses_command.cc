#include "runner/clauses_command.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/catalogue.h"
#include "runner/plan.h"

namespace conform {
namespace {

nlohmann::ordered_json CountsJson(int covered, int untestable, int uncovered) {
  return {{"covered", covered},
          {"untestable", untestable},
          {"uncovered", uncovered},
          {"total", covered + untestable + uncovered}};
}

void PrintJson(const CoverageReport& report, const ClausesOptions& options,
               const std::filesystem::path& suite, size_t case_count) {
  nlohmann::ordered_json out;
  out["catalogue_version"] = kCatalogueVersion;
  out["suite_binary"] = suite.string();
  out["cases"] = case_count;
  out["documents"] = nlohmann::ordered_json::array();
  for (const DocumentCoverage& doc : report.documents) {
    nlohmann::ordered_json entry = {{"id", doc.document->id},
                                    {"title", doc.document->title},
                                    {"internal", doc.document->internal}};
    entry.update(CountsJson(doc.covered, doc.untestable, doc.uncovered));
    if (options.uncovered) {
      entry["uncovered_clauses"] = nlohmann::ordered_json::array();
      for (const ClauseCoverage& c : doc.clauses) {
        if (c.coverage != Coverage::kUncovered) continue;
        entry["uncovered_clauses"].push_back(
            {{"id", c.clause->id}, {"section", c.clause->section}, {"text", c.clause->text}});
      }
    }
    out["documents"].push_back(std::move(entry));
  }
  out["total"] = CountsJson(report.covered, report.untestable, report.uncovered);
  out["unknown_clauses"] = nlohmann::ordered_json::array();
  for (const CaseClause& named : report.unknown_clauses)
    out["unknown_clauses"].push_back({{"case", named.case_id}, {"clause", named.clause}});
  out["untestable_but_covered"] = nlohmann::ordered_json::array();
  for (const Clause* clause : report.untestable_but_covered)
    out["untestable_but_covered"].push_back(clause->id);
  std::cout << out.dump(1) << "\n";
}

void PrintText(const CoverageReport& report, const ClausesOptions& options,
               const std::filesystem::path& suite, size_t case_count) {
  size_t width = std::string("document").size();
  for (const DocumentCoverage& doc : report.documents)
    if (!doc.document->internal) width = std::max(width, doc.document->id.size());
  auto row = [&](const std::string& name, int covered, int untestable, int uncovered,
                 const std::string& title) {
    std::printf("%-*s  %7d  %10d  %9d  %5d%s%s\n", static_cast<int>(width), name.c_str(), covered,
                untestable, uncovered, covered + untestable + uncovered, title.empty() ? "" : "  ",
                title.c_str());
  };

  std::printf("clause coverage of %s (%zu cases)\n", suite.c_str(), case_count);
  std::printf("%-*s  %7s  %10s  %9s  %5s\n", static_cast<int>(width), "document", "covered",
              "untestable", "uncovered", "total");
  for (const DocumentCoverage& doc : report.documents) {
    if (doc.document->internal) continue;
    row(doc.document->id, doc.covered, doc.untestable, doc.uncovered, doc.document->title);
  }
  row("total", report.covered, report.untestable, report.uncovered, "");
  for (const DocumentCoverage& doc : report.documents) {
    if (!doc.document->internal) continue;
    std::printf("not counted: %s (project-internal, %d clauses, %d named by cases here)\n",
                doc.document->id.c_str(), doc.total(), doc.covered);
  }

  if (options.uncovered) {
    std::printf("\nuncovered clauses (%d):\n", report.uncovered);
    for (const DocumentCoverage& doc : report.documents) {
      if (doc.document->internal) continue;
      for (const ClauseCoverage& c : doc.clauses) {
        if (c.coverage != Coverage::kUncovered) continue;
        std::printf("%s  [%s, %s]\n    %s\n", c.clause->id.c_str(), c.clause->document.c_str(),
                    c.clause->section.c_str(), c.clause->text.c_str());
      }
    }
  }

  if (!report.unknown_clauses.empty()) {
    std::printf("\ncases naming a clause that is not in the catalogue (%zu):\n",
                report.unknown_clauses.size());
    for (const CaseClause& named : report.unknown_clauses)
      std::printf("%s  %s\n", named.case_id.c_str(), named.clause.c_str());
  }
  if (!report.untestable_but_covered.empty()) {
    std::printf("\nclauses marked untestable that cases name (%zu):\n",
                report.untestable_but_covered.size());
    for (const Clause* clause : report.untestable_but_covered)
      std::printf("%s\n", clause->id.c_str());
  }
}

}  // namespace

int ClausesCommand(const ClausesOptions& options) {
  const auto suite = options.suite_binary.empty() ? DefaultSuiteBinary() : options.suite_binary;
  const std::vector<PlannedCase> planned = ListSuiteCases(suite);
  std::vector<CaseClause> cases;
  cases.reserve(planned.size());
  for (const PlannedCase& c : planned) cases.push_back({c.id, c.clause});
  const CoverageReport report = ComputeCoverage(LoadCatalogue(), cases);
  if (options.json) {
    PrintJson(report, options, suite, cases.size());
  } else {
    PrintText(report, options, suite, cases.size());
  }
  std::fflush(stdout);
  return report.HasDefects() ? 1 : 0;
}

}  // namespace conform
