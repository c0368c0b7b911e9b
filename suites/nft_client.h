// nf_tables over raw NETLINK_NETFILTER, one change per batch, IPv4 family only: enough for a case
// to make a table, a base chain on the IPv4 LOCAL_OUT hook and one "drop" rule in a netns, with
// no nft or iptables tool. A drop on the output path makes a local sendto() fail with EPERM, which
// is how a rule is seen to act. Used by stack_isolation_test.cc and firewall_isolation_test.cc.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/error.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"

namespace conform::sockets {

class NftClient {
 public:
  explicit NftClient(int netns_fd) : nl_(nullptr, mnl_socket_close) {
    RunInNetns(netns_fd, [&] {
      nl_.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
      if (!nl_) throw SystemError("socket(AF_NETLINK, NETLINK_NETFILTER)", errno);
    });
    if (mnl_socket_bind(nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      throw SystemError("bind(NETLINK_NETFILTER)", errno);
    timeval timeout{10, 0};  // a kernel that never answers fails the case instead of hanging
    CheckSyscall(setsockopt(mnl_socket_get_fd(nl_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                            sizeof(timeout)),
                 "setsockopt(SO_RCVTIMEO)");
  }

  void AddTable(const std::string& table) {
    Change(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "add table " + table,
           [&](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table.c_str()); });
  }
  void DeleteTable(const std::string& table) {
    Change(NFT_MSG_DELTABLE, 0, "delete table " + table,
           [&](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table.c_str()); });
  }
  // A base chain of type filter on the IPv4 LOCAL_OUT hook, policy accept.
  void AddOutputChain(const std::string& table, const std::string& chain) {
    Change(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, "add chain " + chain, [&](nlmsghdr* nlh) {
      mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table.c_str());
      mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain.c_str());
      nlattr* hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
      mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_LOCAL_OUT));
      mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(0));
      mnl_attr_nest_end(nlh, hook);
      mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
      mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
    });
  }
  // The rule "drop" (one immediate verdict expression) appended to the chain.
  void AddDropRule(const std::string& table, const std::string& chain) {
    Change(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add rule drop", [&](nlmsghdr* nlh) {
      mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table.c_str());
      mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain.c_str());
      nlattr* exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
      nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
      nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
      mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
      nlattr* imm = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
      nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
      mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(NF_DROP));
      mnl_attr_nest_end(nlh, verdict);
      mnl_attr_nest_end(nlh, imm);
      mnl_attr_nest_end(nlh, data);
      mnl_attr_nest_end(nlh, elem);
      mnl_attr_nest_end(nlh, exprs);
    });
  }

  // Names of the IPv4 tables of this socket's netns.
  std::vector<std::string> ListTables() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++seq_;
    PutNfgen(nlh, NFPROTO_IPV4, 0);
    Send(nlh, nlh->nlmsg_len, "dump tables");
    std::vector<std::string> tables;
    Receive(nlh->nlmsg_seq, "dump tables", [&](const nlmsghdr* msg) {
      if ((msg->nlmsg_type & 0xff) != NFT_MSG_NEWTABLE) return;
      ForEachAttr(msg, sizeof(nfgenmsg), [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME) tables.push_back(mnl_attr_get_str(attr));
      });
    });
    return tables;
  }

 private:
  static void PutNfgen(nlmsghdr* nlh, uint8_t family, uint16_t res_id) {
    auto* gen = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    gen->nfgen_family = family;
    gen->version = NFNETLINK_V0;
    gen->res_id = htons(res_id);
  }

  void Send(const void* data, size_t len, const std::string& op) {
    if (mnl_socket_sendto(nl_.get(), data, len) < 0) throw SystemError(op + ": sendto", errno);
  }

  // Reads until the ACK/error or NLMSG_DONE of `seq`; other messages go to on_reply.
  void Receive(uint32_t seq, const std::string& op,
               const std::function<void(const nlmsghdr*)>& on_reply) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    for (;;) {
      ssize_t got = mnl_socket_recvfrom(nl_.get(), buf.data(), buf.size());
      if (got < 0) throw SystemError(op + ": recv(NETLINK_NETFILTER)", errno);
      int left = static_cast<int>(got);
      for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, left);
           msg = mnl_nlmsg_next(msg, &left)) {
        if (msg->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(msg));
          // A batch error may carry the sequence number of the batch header instead.
          if (err->error != 0) throw NetlinkError(op, -err->error, "");
          if (msg->nlmsg_seq == seq) return;
          continue;
        }
        if (msg->nlmsg_seq != seq) continue;
        if (msg->nlmsg_type == NLMSG_DONE) return;
        if (on_reply) on_reply(msg);
      }
    }
  }

  // BATCH_BEGIN, one nf_tables message with NLM_F_ACK, BATCH_END; waits for its ACK.
  void Change(uint16_t type, uint16_t flags, const std::string& op,
              const std::function<void(nlmsghdr*)>& fill) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
    auto put = [&](uint16_t msg_type, uint16_t msg_flags, uint8_t family, uint16_t res_id) {
      nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
      nlh->nlmsg_type = msg_type;
      nlh->nlmsg_flags = NLM_F_REQUEST | msg_flags;
      nlh->nlmsg_seq = ++seq_;
      PutNfgen(nlh, family, res_id);
      return nlh;
    };
    put(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    mnl_nlmsg_batch_next(batch);
    nlmsghdr* msg = put(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type),
                        flags | NLM_F_ACK, NFPROTO_IPV4, 0);
    fill(msg);
    const uint32_t seq = msg->nlmsg_seq;
    mnl_nlmsg_batch_next(batch);
    put(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    mnl_nlmsg_batch_next(batch);
    Send(mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch), op);
    mnl_nlmsg_batch_stop(batch);
    Receive(seq, op, {});
  }

  MnlSocketPtr nl_;
  uint32_t seq_ = 0;
};

// Why nf_tables cannot be used in netns_fd (a dump of its tables fails), or nullopt.
inline std::optional<std::string> NfTablesUnusable(int netns_fd) {
  try {
    NftClient(netns_fd).ListTables();
    return std::nullopt;
  } catch (const SystemError& e) {
    return std::string("nf_tables unusable here (kernel config says it is built): ") + e.what();
  }
}

}  // namespace conform::sockets
