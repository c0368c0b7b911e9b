// Times of the reuse sandbox (vm/reuse.h): Unix time for meta.json, steady durations in seconds,
// and seconds as fixed-point text for its messages.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace conform::vm {

using Clock = std::chrono::steady_clock;

inline double UnixNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

inline std::string Fixed(double s, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, s);
  return buf;
}

}  // namespace conform::vm
