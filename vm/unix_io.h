// File descriptors and unix stream sockets of the reuse sandbox (vm/reuse.h): whole writes and
// sends, the socket address of a path, and the connect of the attach client and the supervisor.
#pragma once

#include <sys/un.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "fixtures/fd.h"

namespace conform::vm {

using Fd = conform::FileDescriptor;

// strerror(e).
std::string Errno(int e);

// All of `data` with send(MSG_NOSIGNAL) (no SIGPIPE) or write(2); false when the peer went away
// or another error stopped it (errno says which).
bool SendAll(int fd, std::string_view data);
bool WriteAll(int fd, std::string_view data);

// The AF_UNIX address of `path`; VmError when the path does not fit in sun_path.
sockaddr_un UnixAddress(const std::filesystem::path& path);

// A connected stream socket, or an invalid Fd with errno set.
Fd ConnectUnix(const std::filesystem::path& path);

}  // namespace conform::vm
