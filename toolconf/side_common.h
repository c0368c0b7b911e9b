// What the two halves of a scenario's side share (toolconf/side.cc: entering the world and
// running steps; toolconf/side_processes.cc: the processes kept beside the tool): the run
// folder's path and small text helpers.
#pragma once

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace conform::toolconf::side_parts {

inline const std::string kRunDir = "/run/netns";

inline std::string Trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!Trimmed(line).empty()) lines.push_back(Trimmed(line));
  return lines;
}

inline std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace conform::toolconf::side_parts
