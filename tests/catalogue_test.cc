// Tests of the clause catalogue (suites/clauses.json, compiled in) and of its coverage: the
// catalogue parses and keeps its rules, every case of the suites names a clause in it, and every
// conformance clause has cases, an "untestable" reason, or a line in suites/clauses_pending.txt
// (the allowlist of clauses still without tests, which may only shrink).
//
// Paths come from CMake: NETNS_CONFORM_SUITE and NETNS_CONFORM_FAULT_SUITE (the suite binaries,
// asked for their cases with --netns_conform_list), NETNS_CONFORM_CATALOGUE_SOURCE
// (suites/clauses.json) and NETNS_CONFORM_PENDING (suites/clauses_pending.txt).
#include "reports/catalogue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "runner/plan.h"

namespace conform {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The cases a suite binary declares, as (case, clause).
std::vector<CaseClause> SuiteCases(const char* binary) {
  std::vector<CaseClause> cases;
  for (const PlannedCase& planned : ListSuiteCases(binary))
    cases.push_back({planned.id, planned.clause});
  return cases;
}

// The ids of suites/clauses_pending.txt, in file order ('#' comments and blank lines dropped).
std::vector<std::string> PendingIds() {
  std::vector<std::string> ids;
  std::ifstream in(NETNS_CONFORM_PENDING);
  if (!in) ADD_FAILURE() << "cannot read " << NETNS_CONFORM_PENDING;
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    const size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    line = line.substr(begin, line.find_last_not_of(" \t\r") - begin + 1);
    ids.push_back(line);
  }
  return ids;
}

// The CatalogueError message of Catalogue::Parse(text), or "" when it does not throw.
std::string RejectionOf(const std::string& text) {
  try {
    Catalogue::Parse(text);
  } catch (const CatalogueError& e) {
    return e.what();
  }
  return "";
}

auto OneLine() { return AllOf(Not(HasSubstr("\n")), Not(IsEmpty())); }

// ---------------------------------------------------------------------------------------------
// The embedded catalogue

TEST(CatalogueTest, EmbeddedCatalogueParsesAndIsTheSourceFile) {
  EXPECT_NO_THROW(LoadCatalogue());
  EXPECT_EQ(EmbeddedCatalogueText(), ReadFile(NETNS_CONFORM_CATALOGUE_SOURCE))
      << "the binary embeds a stale suites/clauses.json";
  EXPECT_EQ(&LoadCatalogue(), &LoadCatalogue()) << "parsed once";
}

TEST(CatalogueTest, HoldsTheDocumentsOfTheSpecs) {
  const Catalogue& catalogue = LoadCatalogue();
  for (const char* id : {"netns7", "netns7-5.10", "ipnetns8", "clone2", "sem", "test"}) {
    const CatalogueDocument* document = catalogue.FindDocument(id);
    ASSERT_NE(document, nullptr) << id;
    EXPECT_EQ(document->internal, std::string(id) == "test") << id;
    EXPECT_FALSE(catalogue.ClausesOf(id).empty()) << "document " << id << " has no clause";
  }
  EXPECT_EQ(catalogue.documents().size(), 6u);
}

TEST(CatalogueTest, ClauseIdsAreUniqueAndWellFormed) {
  std::set<std::string> seen;
  for (const Clause& clause : LoadCatalogue().clauses()) {
    EXPECT_TRUE(seen.insert(clause.id).second) << "duplicate " << clause.id;
    EXPECT_TRUE(IsWellFormedClauseId(clause.id)) << clause.id;
    EXPECT_EQ(LoadCatalogue().Find(clause.id), &clause);
  }
}

TEST(CatalogueTest, EveryClauseNamesAnExistingDocumentOfItsFamily) {
  const Catalogue& catalogue = LoadCatalogue();
  for (const Clause& clause : catalogue.clauses()) {
    EXPECT_NE(catalogue.FindDocument(clause.document), nullptr) << clause.id;
    EXPECT_EQ(clause.id.rfind(DocumentFamily(clause.document) + ".", 0), 0u) << clause.id;
    EXPECT_FALSE(clause.section.empty()) << clause.id;
    EXPECT_FALSE(clause.text.empty()) << clause.id;
  }
}

// sem.B4.3.setns-errors is behaviour B4.3 of SEMANTICS.md: its section says so.
TEST(CatalogueTest, SemanticsClausesNameTheirBehaviourNumber) {
  for (const Clause* clause : LoadCatalogue().ClausesOf("sem")) {
    const std::string rest = clause->id.substr(std::string("sem.").size());
    const size_t second_dot = rest.find('.', rest.find('.') + 1);
    EXPECT_EQ(clause->section, rest.substr(0, second_dot)) << clause->id;
    EXPECT_THAT(clause->section, ::testing::MatchesRegex("B[1-9]\\.[0-9]+")) << clause->id;
  }
}

TEST(CatalogueTest, EveryUntestableClauseHasAReason) {
  int untestable = 0;
  for (const Clause& clause : LoadCatalogue().clauses()) {
    if (!clause.IsUntestable()) continue;
    ++untestable;
    // A reason, not a token: a sentence of a few words at least.
    EXPECT_GE(clause.untestable.size(), 40u) << clause.id << ": " << clause.untestable;
    // Kernel behaviours are testable; §8 describes iproute2, whose quirks are not requirements.
    if (clause.section.rfind("B8.", 0) != 0) {
      EXPECT_NE(clause.document, "sem") << clause.id << ": kernel behaviours are testable";
    }
  }
  EXPECT_GT(untestable, 0);
}

// ---------------------------------------------------------------------------------------------
// The catalogue against the suites

TEST(CatalogueCoverageTest, EveryCaseOfTheSuiteNamesAConformanceClause) {
  const Catalogue& catalogue = LoadCatalogue();
  const std::vector<CaseClause> cases = SuiteCases(NETNS_CONFORM_SUITE);
  ASSERT_FALSE(cases.empty());
  for (const CaseClause& named : cases) {
    const Clause* clause = catalogue.Find(named.clause);
    ASSERT_NE(clause, nullptr) << named.case_id << " names " << named.clause
                               << ", which is not in suites/clauses.json";
    EXPECT_FALSE(catalogue.FindDocument(clause->document)->internal)
        << named.case_id << " names the project-internal clause " << named.clause;
  }
  const CoverageReport report = ComputeCoverage(catalogue, cases);
  EXPECT_THAT(report.unknown_clauses, IsEmpty());
}

// The fault suite's cases name the project-internal clauses, each of them.
TEST(CatalogueCoverageTest, FaultSuiteCoversExactlyTheInternalClauses) {
  const Catalogue& catalogue = LoadCatalogue();
  const std::vector<CaseClause> cases = SuiteCases(NETNS_CONFORM_FAULT_SUITE);
  ASSERT_FALSE(cases.empty());
  for (const CaseClause& named : cases) {
    const Clause* clause = catalogue.Find(named.clause);
    ASSERT_NE(clause, nullptr) << named.case_id << " names " << named.clause;
    EXPECT_TRUE(catalogue.FindDocument(clause->document)->internal) << named.case_id;
  }
  for (const DocumentCoverage& document : ComputeCoverage(catalogue, cases).documents) {
    if (!document.document->internal) continue;
    EXPECT_EQ(document.uncovered, 0) << "an internal clause that no fault-suite case names";
    EXPECT_EQ(document.untestable, 0);
  }
}

// Every conformance clause (all documents but the internal one, SEMANTICS.md's included: the issue
// asks for 0 uncovered) has cases or a reason why none can exist; those still without either are
// listed in suites/clauses_pending.txt, and a listed clause that gains a case must leave the list.
TEST(CatalogueCoverageTest, EveryClauseHasTestsOrAReasonOrIsPending) {
  const Catalogue& catalogue = LoadCatalogue();
  const std::vector<std::string> pending_list = PendingIds();
  std::set<std::string> pending;
  for (const std::string& id : pending_list) {
    EXPECT_TRUE(pending.insert(id).second) << "listed twice in clauses_pending.txt: " << id;
    const Clause* clause = catalogue.Find(id);
    EXPECT_NE(clause, nullptr) << "clauses_pending.txt lists " << id << ", not in the catalogue";
    if (clause != nullptr) {
      EXPECT_FALSE(catalogue.FindDocument(clause->document)->internal) << id;
      EXPECT_FALSE(clause->IsUntestable())
          << id << " is untestable: it cannot be pending as well (remove its line)";
    }
  }

  const CoverageReport report = ComputeCoverage(catalogue, SuiteCases(NETNS_CONFORM_SUITE));
  EXPECT_THAT(report.untestable_but_covered, IsEmpty()) << "an untestable clause that cases name";
  for (const DocumentCoverage& document : report.documents) {
    if (document.document->internal) continue;
    for (const ClauseCoverage& c : document.clauses) {
      const bool listed = pending.contains(c.clause->id);
      switch (c.coverage) {
        case Coverage::kCovered:
          EXPECT_FALSE(listed) << c.clause->id << " is covered by " << c.cases.front()
                               << ": remove it from suites/clauses_pending.txt";
          break;
        case Coverage::kUntestable:
          break;
        case Coverage::kUncovered:
          EXPECT_TRUE(listed) << c.clause->id
                              << " has no case and no \"untestable\" reason: write a case for it "
                                 "(or, while it has none, list it in suites/clauses_pending.txt)";
          break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Catalogue::Parse and the id rules

constexpr const char* kSmallCatalogue = R"json({
  "catalogue_version": 1,
  "documents": [
    {"id": "netns7", "title": "network_namespaces(7)", "source": "spec"},
    {"id": "netns7-5.10", "title": "additions", "source": "spec"},
    {"id": "test", "title": "internal", "source": "tests", "internal": true}
  ],
  "clauses": [
    {"id": "netns7.veth.destroyed-with-netns", "document": "netns7", "section": "¶3", "text": "t"},
    {"id": "netns7.isolation.unix-abstract", "document": "netns7-5.10", "section": "¶1",
     "text": "t"},
    {"id": "netns7.intent", "document": "netns7", "section": "¶2", "text": "t",
     "untestable": "an intention"},
    {"id": "netns7.uncovered", "document": "netns7", "section": "¶2", "text": "t"},
    {"id": "test.fault.fail", "document": "test", "section": "s", "text": "t"}
  ]
})json";

TEST(CatalogueParseTest, ReadsDocumentsAndClauses) {
  const Catalogue catalogue = Catalogue::Parse(kSmallCatalogue);
  ASSERT_EQ(catalogue.documents().size(), 3u);
  EXPECT_EQ(catalogue.documents()[1].id, "netns7-5.10");
  EXPECT_FALSE(catalogue.documents()[0].internal);
  EXPECT_TRUE(catalogue.documents()[2].internal);
  ASSERT_EQ(catalogue.clauses().size(), 5u);
  const Clause* intent = catalogue.Find("netns7.intent");
  ASSERT_NE(intent, nullptr);
  EXPECT_TRUE(intent->IsUntestable());
  EXPECT_EQ(intent->untestable, "an intention");
  EXPECT_EQ(intent->section, "¶2");
  EXPECT_FALSE(catalogue.Find("netns7.uncovered")->IsUntestable());
  EXPECT_EQ(catalogue.Find("netns7.nope"), nullptr);
  EXPECT_EQ(catalogue.FindDocument("nope"), nullptr);
  EXPECT_EQ(catalogue.ClausesOf("netns7").size(), 3u);
}

TEST(CatalogueParseTest, RejectsBrokenCatalogues) {
  const nlohmann::json good = nlohmann::json::parse(kSmallCatalogue);
  struct Mutation {
    std::string name;
    void (*apply)(nlohmann::json&);
    std::string expected;
  };
  const std::vector<Mutation> mutations = {
      {"version 2", [](nlohmann::json& d) { d["catalogue_version"] = 2; },
       "unsupported catalogue_version 2"},
      {"no clauses", [](nlohmann::json& d) { d.erase("clauses"); }, "missing field \"clauses\""},
      {"clauses object", [](nlohmann::json& d) { d["clauses"] = nlohmann::json::object(); },
       "field \"clauses\" is not an array"},
      {"unknown top-level key", [](nlohmann::json& d) { d["extra"] = 1; },
       "unknown field \"extra\""},
      {"duplicate clause", [](nlohmann::json& d) { d["clauses"].push_back(d["clauses"][0]); },
       "clauses[5] (\"netns7.veth.destroyed-with-netns\"): duplicate clause id"},
      {"duplicate document", [](nlohmann::json& d) { d["documents"].push_back(d["documents"][0]); },
       "duplicate document id \"netns7\""},
      {"unknown document", [](nlohmann::json& d) { d["clauses"][0]["document"] = "netns8"; },
       "unknown document \"netns8\""},
      {"wrong family", [](nlohmann::json& d) { d["clauses"][4]["document"] = "netns7"; },
       "ids of document \"netns7\" start with \"netns7.\""},
      {"upper-case id", [](nlohmann::json& d) { d["clauses"][0]["id"] = "netns7.Veth"; },
       "ill-formed clause id"},
      {"id without a dot", [](nlohmann::json& d) { d["clauses"][0]["id"] = "netns7"; },
       "ill-formed clause id"},
      {"ill-formed document id", [](nlohmann::json& d) { d["documents"][0]["id"] = "Netns 7"; },
       "ill-formed document id"},
      {"empty reason", [](nlohmann::json& d) { d["clauses"][3]["untestable"] = ""; },
       "field \"untestable\" is empty"},
      {"blank reason", [](nlohmann::json& d) { d["clauses"][3]["untestable"] = "  "; },
       "field \"untestable\" holds no reason"},
      {"reason not a string", [](nlohmann::json& d) { d["clauses"][3]["untestable"] = true; },
       "field \"untestable\" is not a string"},
      {"misspelt field", [](nlohmann::json& d) { d["clauses"][3]["untestible"] = "why"; },
       "clauses[3] (\"netns7.uncovered\"): unknown field \"untestible\""},
      {"no text", [](nlohmann::json& d) { d["clauses"][1].erase("text"); },
       "clauses[1] (\"netns7.isolation.unix-abstract\"): missing field \"text\""},
      {"internal not a boolean", [](nlohmann::json& d) { d["documents"][2]["internal"] = "yes"; },
       "field \"internal\" is not a boolean"},
      {"clause not an object", [](nlohmann::json& d) { d["clauses"][2] = 3; },
       "clauses[2] is not an object"},
  };
  EXPECT_EQ(RejectionOf(good.dump()), "");
  for (const Mutation& m : mutations) {
    SCOPED_TRACE(m.name);
    nlohmann::json doc = good;
    m.apply(doc);
    EXPECT_THAT(RejectionOf(doc.dump()), AllOf(OneLine(), HasSubstr(m.expected)));
  }
  EXPECT_THAT(RejectionOf("{\"catalogue_version\": 1,\n"), AllOf(OneLine(), HasSubstr("JSON")));
  EXPECT_THAT(RejectionOf("[]"), AllOf(OneLine(), HasSubstr("not an object")));
}

TEST(CatalogueParseTest, IdRules) {
  for (const char* id : {"netns7.veth.destroyed-with-netns", "sem.B4.3.setns-errors",
                         "netns7.freed-when-last-process-exits", "clone2.newnet.since-linux-2-6-24",
                         "test.fault.fail", "a.b"}) {
    EXPECT_TRUE(IsWellFormedClauseId(id)) << id;
  }
  for (const char* id : {"", "netns7", "netns7.", ".veth", "netns7..veth", "netns7.Veth",
                         "netns7.veth_end", "netns7.veth--end", "netns7.-veth", "netns7.veth-",
                         "B4.sem", "7netns.veth", "sem.B4x", "netns7.veth end"}) {
    EXPECT_FALSE(IsWellFormedClauseId(id)) << id;
  }
  for (const char* id : {"netns7", "netns7-5.10", "sem", "ipnetns8", "clone2-6"})
    EXPECT_TRUE(IsWellFormedDocumentId(id)) << id;
  for (const char* id : {"", "Netns7", "7netns", "netns7-", "netns7-5.", "netns7-x", "a b"})
    EXPECT_FALSE(IsWellFormedDocumentId(id)) << id;
  EXPECT_EQ(DocumentFamily("netns7-5.10"), "netns7");
  EXPECT_EQ(DocumentFamily("sem"), "sem");
}

// ---------------------------------------------------------------------------------------------
// ComputeCoverage

TEST(ComputeCoverageTest, CountsPerDocumentAndFindsDefects) {
  const Catalogue catalogue = Catalogue::Parse(kSmallCatalogue);
  const CoverageReport report =
      ComputeCoverage(catalogue, {{"Veth.A", "netns7.veth.destroyed-with-netns"},
                                  {"Veth.B", "netns7.veth.destroyed-with-netns"},
                                  {"Odd.Intent", "netns7.intent"},
                                  {"Typo.Case", "netns7.veth.destroyed-with-ns"},
                                  {"Fault.Fail", "test.fault.fail"}});
  ASSERT_EQ(report.documents.size(), 3u);
  const DocumentCoverage& netns7 = report.documents[0];
  EXPECT_EQ(netns7.document->id, "netns7");
  EXPECT_EQ(netns7.covered, 2);  // destroyed-with-netns, and intent (untestable, but named)
  EXPECT_EQ(netns7.untestable, 0);
  EXPECT_EQ(netns7.uncovered, 1);
  EXPECT_EQ(netns7.total(), 3);
  ASSERT_EQ(netns7.clauses.size(), 3u);
  EXPECT_EQ(netns7.clauses[0].coverage, Coverage::kCovered);
  EXPECT_THAT(netns7.clauses[0].cases, ::testing::ElementsAre("Veth.A", "Veth.B"));
  EXPECT_EQ(netns7.clauses[2].coverage, Coverage::kUncovered);
  EXPECT_EQ(report.documents[1].uncovered, 1);
  EXPECT_EQ(report.documents[2].covered, 1);
  // Totals leave the internal document out.
  EXPECT_EQ(report.covered, 2);
  EXPECT_EQ(report.uncovered, 2);
  EXPECT_EQ(report.total(), 4);
  ASSERT_EQ(report.unknown_clauses.size(), 1u);
  EXPECT_EQ(report.unknown_clauses[0].case_id, "Typo.Case");
  ASSERT_EQ(report.untestable_but_covered.size(), 1u);
  EXPECT_EQ(report.untestable_but_covered[0]->id, "netns7.intent");
  EXPECT_TRUE(report.HasDefects());

  const CoverageReport clean = ComputeCoverage(catalogue, {});
  EXPECT_FALSE(clean.HasDefects());
  EXPECT_EQ(clean.untestable, 1);
  EXPECT_EQ(clean.uncovered, 3);
  EXPECT_STREQ(CoverageName(Coverage::kUntestable), "untestable");
}

}  // namespace
}  // namespace conform
