// Statistics and timing for netns-conform-bench (bench/bench_stats.h).
#include "bench/bench_stats.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace conform::bench {

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Stats Summarize(std::vector<double> values) {
  Stats s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.min = values.front();
  s.max = values.back();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.p90 = values[static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(n);
  return s;
}

double Round3(double v) { return std::round(v * 1000) / 1000; }

Json StatsJson(const Stats& s) {
  return {{"n", s.n},
          {"median_ms", Round3(s.median)},
          {"p90_ms", Round3(s.p90)},
          {"min_ms", Round3(s.min)},
          {"max_ms", Round3(s.max)},
          {"mean_ms", Round3(s.mean)}};
}

namespace {

std::string StatsLine(const Stats& s) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "median %8.3f ms  p90 %8.3f ms  (min %.3f, max %.3f, n=%zu)",
                s.median, s.p90, s.min, s.max, s.n);
  return buf;
}

}  // namespace

void PrintStats(const std::string& label, const Stats& s, const std::string& suffix) {
  std::printf("  %-46s %s%s\n", label.c_str(), StatsLine(s).c_str(), suffix.c_str());
}

}  // namespace conform::bench
