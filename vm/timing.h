// Times of the VM code: Unix time (the reuse sandbox's meta.json), steady durations in seconds,
// and seconds as fixed-point text for messages.
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

// Seconds from `start` to now.
inline double Since(Clock::time_point start) { return Seconds(Clock::now() - start); }

inline std::string Fixed(double s, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, s);
  return buf;
}

}  // namespace conform::vm
