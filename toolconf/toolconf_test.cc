// Unit tests of the profile format and of the trace comparison: no namespaces needed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reports/catalogue.h"
#include "toolconf/adapters.h"
#include "toolconf/profile.h"
#include "toolconf/scenarios.h"

namespace conform::toolconf {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Profile Parse(const std::string& text) { return ParseProfile(json::parse(text), "test"); }

TEST(Profile, ArgvTemplatesAndSteps) {
  const auto p = Parse(R"({"name": "t", "error_exit_codes": [1, 3], "ops": {
      "add": ["tool", "add", "{name}"],
      "del": [["umount", "{run_dir}/{name}"], ["rm", "{run_dir}/{name}"]]}})");
  EXPECT_TRUE(p.Supports("add"));
  EXPECT_FALSE(p.Supports("exec"));
  EXPECT_EQ(p.ops.at("del").size(), 2u);
  EXPECT_THAT(p.error_exit_codes, ElementsAre(1, 3));
}

TEST(Profile, ShellMetacharactersStayOneArgument) {
  Bindings b;
  b.name = "x y;$(touch z)|&`id`'\"*{pid}";
  b.pid = "42";
  const Argv argv = Expand({"tool", "add", "{name}", "--net={run_dir}/{name}"}, b);
  ASSERT_EQ(argv.size(), 4u);
  // Substituted text is never rescanned: the "{pid}" inside the name stays as it is.
  EXPECT_EQ(argv[2], b.name);
  EXPECT_EQ(argv[3], "--net=/run/netns/" + b.name);
}

TEST(Profile, CmdExpandsToSeveralArguments) {
  Bindings b;
  b.name = "A";
  b.cmd = {"sh", "-c", "exit 7"};
  EXPECT_THAT(Expand({"ip", "netns", "exec", "{name}", "{cmd}"}, b),
              ElementsAre("ip", "netns", "exec", "A", "sh", "-c", "exit 7"));
}

TEST(Profile, RejectsWhatCouldReachAShell) {
  auto message = [](const std::string& text) {
    try {
      Parse(text);
    } catch (const ProfileError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_THAT(message(R"({"name": "t", "ops": {"add": "ip netns add {name}"}})"),
              HasSubstr("not a shell string"));
  EXPECT_THAT(message(R"({"name": "t", "ops": {"add": ["ip", "{nmae}"]}})"),
              HasSubstr("unknown placeholder {nmae}"));
  EXPECT_THAT(message(R"({"name": "t", "ops": {"exec": ["ip", "x{cmd}"]}})"),
              HasSubstr("whole argv element"));
  EXPECT_THAT(message(R"({"name": "t", "ops": {"frobnicate": ["x"]}})"),
              HasSubstr("unknown operation"));
  EXPECT_THAT(message(R"({"name": "a b", "ops": {"add": ["x"]}})"), HasSubstr("\"name\""));
  EXPECT_THAT(message(R"({"name": "t", "ops": {}})"), HasSubstr("\"ops\""));
  EXPECT_THAT(message(R"({"name": "t", "ops": {"add": [1]}})"), HasSubstr("must be a string"));
  EXPECT_THAT(message(R"({"name": "t", "error_exit_codes": [0], "ops": {"add": ["x"]}})"),
              HasSubstr("error_exit_codes"));
  EXPECT_THAT(message(R"({"name": "t", "colour": 1, "ops": {"add": ["x"]}})"),
              HasSubstr("unknown field"));
}

TEST(Profile, RoundTripsThroughJson) {
  const auto p = Parse(R"({"name": "t", "tool": "/bin/x", "ops": {"list": ["{tool}", "l"]}})");
  const auto again = ParseProfile(ProfileToJson(p), "again");
  EXPECT_EQ(again.tool, "/bin/x");
  EXPECT_EQ(again.ops, p.ops);
}

TEST(Adapters, BuiltinsParseAndUnknownNamesAreRefused) {
  for (const auto& name : BuiltinToolNames()) {
    if (name == "netns-ref") continue;  // needs its binary
    EXPECT_NO_THROW(ResolveTool(name, {}, "/nonexistent")) << name;
  }
  EXPECT_THROW(ResolveTool("no-such-tool", {}, "/nonexistent"), ProfileError);
}

TEST(Scenarios, AtLeast25EachNamingAClauseOfTheCatalogue) {
  EXPECT_GE(AllScenarios().size(), 25u);
  const Catalogue& catalogue = LoadCatalogue();
  for (const auto& s : AllScenarios()) {
    EXPECT_NE(catalogue.Find(s.clause), nullptr) << s.name << " names " << s.clause;
    EXPECT_FALSE(s.needs.empty()) << s.name;
  }
}

TEST(Scenarios, CompareShowsDifferencesSideBySideOnce) {
  const json ref =
      json::array({{{"step", "add A"}, {"exit", "0"}, {"state", {{"run_dir", "shared"}}}},
                   {{"step", "list"},
                    {"exit", "0"},
                    {"state", {{"run_dir", "shared"}}},
                    {"detail", {{"stderr", "x"}}}}});
  json tool = ref;
  tool[0]["state"]["run_dir"] = "plain";
  tool[1]["state"]["run_dir"] = "plain";
  tool[1]["detail"]["stderr"] = "ignored: details are context";
  const auto diffs = CompareTraces(ref, tool);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(
      diffs[0],
      "step 0 \"add A\": state.run_dir: reference \"shared\" | tool \"plain\" (also at step 1)");
  EXPECT_TRUE(CompareTraces(ref, ref).empty());
}

}  // namespace
}  // namespace conform::toolconf
