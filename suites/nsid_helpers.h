// What the nsid suites (nsid_*_test.cc) share: RTM_NEWNSID / RTM_GETNSID requests built by hand
// with exactly the attributes a case names, so that each attribute combination of the table in
// SEMANTICS.md §7 reaches the kernel as written, and their outcomes as a case asserts on them.
#pragma once

#include <linux/net_namespace.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fixtures/child.h"
#include "fixtures/fd.h"
#include "fixtures/netlink.h"

namespace conform::nsid {

inline constexpr auto kTeardownDeadline = std::chrono::seconds(10);

// The attributes of one RTM_NEWNSID reply or notification (all of them are 32-bit).
using NsidAttrs = std::map<uint16_t, int32_t>;
NsidAttrs ParseNsidAttrs(const nlmsghdr* nlh);

struct NsidOutcome {
  int err = 0;
  std::string extack;
  std::vector<NsidAttrs> replies;
};
// For the errno-aware matchers: "failed with EINVAL" / "succeeded".
SyscallResult AsCall(const NsidOutcome& outcome);

using AttrList = std::vector<std::pair<uint16_t, int32_t>>;
void FillNsidRequest(NetlinkRequest& req, const AttrList& attrs);

// One RTM_NEWNSID / RTM_GETNSID request (a dump with NLM_F_DUMP) with exactly these attributes.
NsidOutcome NsidRequest(RouteClient& client, uint16_t type, const AttrList& attrs,
                        uint16_t flags = 0);
NsidOutcome GetNsidBy(RouteClient& client, const AttrList& attrs);

// The single reply's attribute, or nullopt.
std::optional<int32_t> ReplyAttr(const NsidOutcome& outcome, uint16_t type);

// For a forked child, which records instead of asserting.
void RecordOutcome(ChildChannel& ch, const std::string& name, const NsidOutcome& outcome);

// An fd as a NETNSA_FD attribute's value.
inline int Fd(const FileDescriptor& fd) { return fd.get(); }

}  // namespace conform::nsid
