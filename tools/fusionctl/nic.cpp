// SPDX-License-Identifier: GPL-2.0
// nic: the NICs the module drives, from their sysfs directory
// (/sys/class/net/<if>/exofusion/: policy, mode, rates and counters) and
// the mode-change history of debugfs (exofusion/nicinfo); --mode writes
// the policy file.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"
#include "tools/fusionctl/nics.h"
#include "tools/fusionctl/text.h"

namespace fusionctl {
namespace {

// The debugfs file of the mode-change history, or the one EXO_NICINFO
// names instead (as EXO_SLABINFO does).
File nicinfo_file() { return file_of("EXO_NICINFO", "/sys/kernel/debug/exofusion/nicinfo"); }

const char* const kPolicies[] = {"adaptive", "interrupt", "moderated", "timer-poll", "busy-poll"};

// --- nicinfo: the history of each NIC ---

struct Change {
  uint64_t time_ns, rate_pps, batch_x16;
  std::string from, to, reason;
};
using Histories = std::map<std::string, std::vector<Change>>;

// KEY VALUE pairs from words[first..]; false with |why| set if malformed.
bool pairs(const std::vector<std::string>& w, size_t first,
           std::map<std::string, std::string>* out, std::string* why) {
  for (size_t i = first; i < w.size(); i += 2) {
    if (i + 1 == w.size()) {
      *why = "'" + w[i] + "' has no value";
      return false;
    }
    (*out)[w[i]] = w[i + 1];
  }
  return true;
}

// One line of nicinfo into |out| (|current|: the NIC of the last nic line);
// false with |why| set if malformed.
bool parse_nicinfo_line(const std::string& text, std::string* current, Histories* out,
                        std::string* why) {
  std::vector<std::string> w = words_of(text);
  if (w.empty()) return true;
  std::map<std::string, std::string> kv;
  if (w[0] == "nic") {
    if (w.size() < 2) {
      *why = "a nic line without an interface";
      return false;
    }
    *current = w[1];
    (*out)[w[1]];
    return pairs(w, 2, &kv, why);
  }
  if (w[0] != "change") {
    *why = "expected 'nic IFNAME ...' or '  change ...'";
    return false;
  }
  if (current->empty()) {
    *why = "a change line before any nic line";
    return false;
  }
  if (!pairs(w, 1, &kv, why)) return false;
  Change c;
  for (const char* key : {"time_ns", "rate_pps", "batch_x16"}) {
    uint64_t* to = key[0] == 't' ? &c.time_ns : key[0] == 'r' ? &c.rate_pps : &c.batch_x16;
    if (!kv.count(key) || !parse_decimal(kv[key].c_str(), to)) {
      *why = kv.count(key) ? "the value of '" + std::string(key) + "' is not a decimal number"
                           : "no '" + std::string(key) + "' in the change line";
      return false;
    }
  }
  for (const char* key : {"from", "to", "reason"}) {
    if (!kv.count(key)) {
      *why = "no '" + std::string(key) + "' in the change line";
      return false;
    }
  }
  c.from = kv["from"];
  c.to = kv["to"];
  c.reason = kv["reason"];
  (*out)[*current].push_back(c);
  return true;
}

// The histories, or false with |error| saying why they are not there.
bool read_nicinfo(const File& file, Histories* out, std::string* error) {
  std::string shown = file.shown();
  FILE* f = fopen(file.path.c_str(), "re");
  if (!f) {
    int err = errno;
    *error = "cannot read " + shown + " (" + strerror(err) + ")";
    if (err == EACCES || err == EPERM) *error += ": run fusionctl as root";
    if (err == ENOENT && !file.env)
      *error += ": is debugfs mounted (mount -t debugfs none /sys/kernel/debug)?";
    return false;
  }
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  size_t line = 0;
  std::string current, why;
  bool ok = true;
  while (ok && (n = getline(&buf, &cap, f)) >= 0) {
    std::string text(buf, n);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    ++line;
    ok = parse_nicinfo_line(text, &current, out, &why);
    if (!ok)
      *error = "malformed " + file.path + ", line " + std::to_string(line) + ": " +
               printable(why) + ": '" + printable(text) + "'";
  }
  free(buf);
  fclose(f);
  return ok;
}

// --- printing ---

std::string batch_text(uint64_t x16) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%llu.%02llu", static_cast<unsigned long long>(x16 / 16),
           static_cast<unsigned long long>(x16 % 16 * 100 / 16));
  return buf;
}

// Seconds, to the microsecond.
std::string time_text(uint64_t ns) {
  char buf[48];
  snprintf(buf, sizeof(buf), "%llu.%06llu", static_cast<unsigned long long>(ns / 1000000000),
           static_cast<unsigned long long>(ns % 1000000000 / 1000));
  return buf;
}

void print_nic(const Nic& n, const Histories* histories, const std::string& history_error) {
  const std::map<std::string, uint64_t>& v = n.numbers;
  printf("%s: pci %s, policy %s, mode %s\n", printable(n.name).c_str(), printable(n.pci).c_str(),
         printable(n.policy).c_str(), printable(n.mode).c_str());
  printf("  rate %llu pps, batch %s packets/poll, %llu interrupts/s, mode changes %llu\n",
         static_cast<unsigned long long>(v.at("rate_pps")), batch_text(v.at("batch_x16")).c_str(),
         static_cast<unsigned long long>(v.at("irq_rate")),
         static_cast<unsigned long long>(v.at("mode_changes")));
  printf("  irqs %llu, polls %llu (busy %llu), timer polls %llu\n",
         static_cast<unsigned long long>(v.at("irqs")),
         static_cast<unsigned long long>(v.at("polls")),
         static_cast<unsigned long long>(v.at("busy_polls")),
         static_cast<unsigned long long>(v.at("timer_polls")));
  if (!histories) {
    printf("  mode changes: history unavailable (%s)\n", history_error.c_str());
    return;
  }
  auto it = histories->find(n.name);
  if (it == histories->end() || it->second.empty()) {
    printf("  mode changes: none\n");
    return;
  }
  printf("  mode changes, oldest first:\n");
  printf("    %16s  %-10s  %-10s  %-12s  %10s  %6s\n", "TIME_S", "FROM", "TO", "REASON",
         "RATE_PPS", "BATCH");
  for (const Change& c : it->second)
    printf("    %16s  %-10s  %-10s  %-12s  %10llu  %6s\n", time_text(c.time_ns).c_str(),
           printable(c.from).c_str(), printable(c.to).c_str(), printable(c.reason).c_str(),
           static_cast<unsigned long long>(c.rate_pps), batch_text(c.batch_x16).c_str());
}

int write_policy(const File& net, const std::string& name, const char* policy) {
  std::string path = net.path + "/" + name + "/exofusion/policy";
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);  // O_TRUNC: for a test's file
  if (fd < 0) {
    int err = errno;
    return fail("nic: cannot write %s (%s)%s", path.c_str(), strerror(err),
                err == EACCES || err == EPERM ? ": run fusionctl as root" : "");
  }
  ssize_t n = write(fd, policy, strlen(policy));
  int err = errno;
  if (close(fd) != 0 && n >= 0) {
    n = -1;
    err = errno;
  }
  if (n < 0)
    return fail("nic: writing '%s' to %s failed (%s)", policy, path.c_str(), strerror(err));
  if (static_cast<size_t>(n) != strlen(policy))
    return fail("nic: %s took only %zd of the %zu bytes of '%s'", path.c_str(), n, strlen(policy),
                policy);
  return kExitOk;
}

int run_nic(const Args& args) {
  File net = net_sysfs();
  const char* mode = args.given("--mode") ? args.text("--mode", "") : nullptr;
  if (mode) {
    bool known = false;
    for (const char* m : kPolicies) known |= !strcmp(m, mode);
    if (!known)
      args.usage_error(
          "--mode: unknown mode '%s' (%s): expected adaptive, interrupt, moderated, timer-poll or "
          "busy-poll",
          mode, strerror(EINVAL));
    if (!args.operand_count()) args.usage_error("--mode needs an interface: nic IFNAME --mode M");
  }

  std::vector<std::string> names;
  std::string error;
  if (args.operand_count())
    names.push_back(args.operand(0));
  else if (!list_nics(net, &names, &error))
    return fail("nic: %s", error.c_str());
  std::vector<Nic> nics(names.size());
  for (size_t i = 0; i < names.size(); ++i)
    if (!read_nic(net, names[i], &nics[i], &error)) return fail("nic: %s", error.c_str());
  if (mode) return write_policy(net, names[0], mode);

  if (nics.empty()) {
    printf("no exofusion NIC (none of %s/*/exofusion/)\n", net.path.c_str());
    return kExitOk;
  }
  Histories histories;
  bool have = read_nicinfo(nicinfo_file(), &histories, &error);
  for (size_t i = 0; i < nics.size(); ++i) {
    if (i) printf("\n");
    print_nic(nics[i], have ? &histories : nullptr, error);
  }
  if (!have) {
    fflush(stdout);
    fprintf(stderr, "fusionctl: nic: %s\n", error.c_str());
  }
  return kExitOk;
}

}  // namespace

const Command kNic = {
    "nic",
    "[IFNAME]",
    "show the NICs the module drives and their poll modes, or force a mode",
    "Prints each network interface the exofusion driver drives (those with a\n"
    "/sys/class/net/IFNAME/exofusion/ directory), or only IFNAME: its PCI slot, the\n"
    "policy (adaptive or a fixed mode) and the mode now, the rate and batch EMAs\n"
    "(packets/s, packets per poll), the number of mode changes, and the interrupts,\n"
    "polls, busy polls and timer polls counted; then the last mode changes, oldest\n"
    "first (time, from, to, reason, the rate and batch then), from\n"
    "/sys/kernel/debug/exofusion/nicinfo. That file needs root and a mounted debugfs\n"
    "(mount -t debugfs none /sys/kernel/debug); without it the history is left out\n"
    "and a warning says why.\n\n"
    "--mode M writes M to IFNAME's exofusion/policy (root): adaptive, or a fixed\n"
    "mode: interrupt, moderated, timer-poll or busy-poll.\n\n"
    "The environment variables EXO_NET_SYSFS (for /sys/class/net) and EXO_NICINFO,\n"
    "when set, name other places to use instead.",
    {
        {"--mode", "M", "set IFNAME's policy: adaptive|interrupt|moderated|timer-poll|busy-poll"},
    },
    0,
    1,
    run_nic,
};

}  // namespace fusionctl
