#include "suites/nsid_helpers.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

namespace conform::nsid {

NsidAttrs ParseNsidAttrs(const nlmsghdr* nlh) {
  NsidAttrs attrs;
  ForEachAttr(nlh, sizeof(rtgenmsg), [&](const nlattr* attr) {
    if (mnl_attr_get_payload_len(attr) >= sizeof(uint32_t))
      attrs[mnl_attr_get_type(attr)] = static_cast<int32_t>(mnl_attr_get_u32(attr));
  });
  return attrs;
}

SyscallResult AsCall(const NsidOutcome& outcome) {
  return outcome.err ? SyscallResult{-1, outcome.err} : SyscallResult{0, 0};
}

void FillNsidRequest(NetlinkRequest& req, const AttrList& attrs) {
  req.PutHeader<rtgenmsg>()->rtgen_family = AF_UNSPEC;
  for (const auto& [type, value] : attrs)
    mnl_attr_put_u32(req.nlh(), type, static_cast<uint32_t>(value));
}

NsidOutcome NsidRequest(RouteClient& client, uint16_t type, const AttrList& attrs, uint16_t flags) {
  NetlinkRequest req(type, flags);
  FillNsidRequest(req, attrs);
  NsidOutcome outcome;
  try {
    client.Request(req, "nsid request", [&](const nlmsghdr* msg) {
      if (msg->nlmsg_type == RTM_NEWNSID) outcome.replies.push_back(ParseNsidAttrs(msg));
    });
  } catch (const NetlinkError& e) {
    outcome.err = e.err();
    outcome.extack = e.extack();
  }
  return outcome;
}

NsidOutcome GetNsidBy(RouteClient& client, const AttrList& attrs) {
  return NsidRequest(client, RTM_GETNSID, attrs);
}

std::optional<int32_t> ReplyAttr(const NsidOutcome& outcome, uint16_t type) {
  if (outcome.replies.size() != 1) return std::nullopt;
  auto it = outcome.replies[0].find(type);
  if (it == outcome.replies[0].end()) return std::nullopt;
  return it->second;
}

void RecordOutcome(ChildChannel& ch, const std::string& name, const NsidOutcome& outcome) {
  errno = outcome.err;
  ch.Record(name, outcome.err ? -1 : ReplyAttr(outcome, NETNSA_NSID).value_or(0));
}

}  // namespace conform::nsid
