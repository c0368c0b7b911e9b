// Statistics and timing shared by every netns-conform-bench section (bench/inplace_bench.cc):
// one summary (median, p90, min, max, mean) per series of samples, printed as one aligned line
// and written as one JSON object, so every number in the report reads and parses alike.
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace conform::bench {

using Clock = std::chrono::steady_clock;
// Ordered: the JSON report keeps the order the numbers were measured and printed in.
using Json = nlohmann::ordered_json;

// Milliseconds from `start` to now, on the steady clock.
double MsSince(Clock::time_point start);

// CLOCK_MONOTONIC in milliseconds: the one clock a forked child and its parent can compare
// timestamps on (bench/launch_costs.cc's stage replay writes them into shared memory).
double MonotonicMs();

struct Stats {
  size_t n = 0;
  double min = 0, median = 0, p90 = 0, max = 0, mean = 0;
};

// Median (mean of the middle two for an even count) and nearest-rank p90.
Stats Summarize(std::vector<double> values);

// To three decimals (microseconds, for values in ms): more would be noise in the JSON.
double Round3(double v);

// {"n", "median_ms", "p90_ms", "min_ms", "max_ms", "mean_ms"}, rounded by Round3.
Json StatsJson(const Stats& s);

// One report line: the label padded to a column, then median, p90, min, max and n, then suffix.
void PrintStats(const std::string& label, const Stats& s, const std::string& suffix = "");

}  // namespace conform::bench
