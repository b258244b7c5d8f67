// SPDX-License-Identifier: GPL-2.0
// nic: the NICs the module drives, from their sysfs directory
// (/sys/class/net/<if>/exofusion/: policy, mode, rates and counters) and
// the mode-change history of debugfs (exofusion/nicinfo); --mode writes
// the policy file.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"

namespace fusionctl {
namespace {

// The directory of the network interfaces and the debugfs file, or those
// that EXO_NET_SYSFS and EXO_NICINFO name instead (as EXO_SLABINFO does).
struct Paths {
  std::string net;      // /sys/class/net
  std::string nicinfo;  // /sys/kernel/debug/exofusion/nicinfo
  const char* nicinfo_env;
};

Paths paths() {
  Paths p{"/sys/class/net", "/sys/kernel/debug/exofusion/nicinfo", nullptr};
  if (const char* v = getenv("EXO_NET_SYSFS"); v && *v) p.net = v;
  if (const char* v = getenv("EXO_NICINFO"); v && *v) {
    p.nicinfo = v;
    p.nicinfo_env = "EXO_NICINFO";
  }
  return p;
}

const char* const kPolicies[] = {"adaptive", "interrupt", "moderated", "timer-poll", "busy-poll"};
const char* const kNumbers[] = {"rate_pps", "batch_x16", "irq_rate",   "mode_changes",
                                "irqs",     "polls",     "busy_polls", "timer_polls"};

// Text from a file as a message can show it: printable, and not too long.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

// A sysfs value: its one line, without the newline. errno on failure.
int read_value(const std::string& path, std::string* out) {
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return errno;
  char buf[256];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  int err = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  if (err) return err;
  buf[n] = '\0';
  *out = buf;
  while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
  return 0;
}

// The last component of a symbolic link's target ("" if none).
std::string link_name(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  const char* slash = strrchr(buf, '/');
  return slash ? slash + 1 : buf;
}

struct Nic {
  std::string name, pci, policy, mode;
  std::map<std::string, uint64_t> numbers;
};

// Reads <net>/<name>/exofusion/; on failure reports it and returns false.
bool read_nic(const Paths& p, const std::string& name, Nic* nic) {
  std::string dir = p.net + "/" + name;
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    fail("nic: unknown interface '%s': no %s (%s)", name.c_str(), dir.c_str(), strerror(errno));
    return false;
  }
  std::string ours = dir + "/exofusion";
  if (stat(ours.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::string driver = link_name(dir + "/device/driver");
    fail("nic: %s is not an exofusion NIC: no %s (%s)%s%s", name.c_str(), ours.c_str(),
         strerror(ENOENT), driver.empty() ? "" : "; its driver is ", driver.c_str());
    return false;
  }
  nic->name = name;
  nic->pci = link_name(dir + "/device");
  if (nic->pci.empty()) nic->pci = "?";
  for (const char* word : {"policy", "mode"}) {
    std::string v;
    int err = read_value(ours + "/" + word, &v);
    if (err) {
      fail("nic: cannot read %s/%s (%s)", ours.c_str(), word, strerror(err));
      return false;
    }
    (word[0] == 'p' ? nic->policy : nic->mode) = v;
  }
  for (const char* key : kNumbers) {
    std::string v;
    uint64_t n;
    int err = read_value(ours + "/" + key, &v);
    if (err) {
      fail("nic: cannot read %s/%s (%s)", ours.c_str(), key, strerror(err));
      return false;
    }
    if (!parse_decimal(v.c_str(), &n)) {
      fail("nic: %s/%s: '%s' is not a decimal number (%s)", ours.c_str(), key,
           printable(v).c_str(), strerror(EINVAL));
      return false;
    }
    nic->numbers[key] = n;
  }
  return true;
}

// The interfaces with an exofusion directory, sorted by name.
bool list_nics(const Paths& p, std::vector<std::string>* out) {
  DIR* d = opendir(p.net.c_str());
  if (!d) {
    fail("nic: cannot list %s (%s)", p.net.c_str(), strerror(errno));
    return false;
  }
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st;
    std::string ours = p.net + "/" + e->d_name + "/exofusion";
    if (stat(ours.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out->push_back(e->d_name);
  }
  closedir(d);
  std::sort(out->begin(), out->end());
  return true;
}

// --- nicinfo: the history of each NIC ---

struct Change {
  uint64_t time_ns, rate_pps, batch_x16;
  std::string from, to, reason;
};
using Histories = std::map<std::string, std::vector<Change>>;

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while ((i = text.find_first_not_of(" \t", i)) != std::string::npos) {
    size_t end = text.find_first_of(" \t", i);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(i, end - i));
    i = end;
  }
  return words;
}

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
bool read_nicinfo(const Paths& p, Histories* out, std::string* error) {
  std::string shown = p.nicinfo_env ? std::string(p.nicinfo_env) + "=" + p.nicinfo : p.nicinfo;
  FILE* f = fopen(p.nicinfo.c_str(), "re");
  if (!f) {
    int err = errno;
    *error = "cannot read " + shown + " (" + strerror(err) + ")";
    if (err == EACCES || err == EPERM) *error += ": run fusionctl as root";
    if (err == ENOENT && !p.nicinfo_env)
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
      *error = "malformed " + p.nicinfo + ", line " + std::to_string(line) + ": " +
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
  printf("%s: pci %s, policy %s, mode %s\n", n.name.c_str(), n.pci.c_str(), n.policy.c_str(),
         n.mode.c_str());
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

int write_policy(const Paths& p, const std::string& name, const char* policy) {
  std::string path = p.net + "/" + name + "/exofusion/policy";
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
  Paths p = paths();
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
  if (args.operand_count()) {
    names.push_back(args.operand(0));
  } else if (!list_nics(p, &names)) {
    return kExitFailure;
  }
  std::vector<Nic> nics(names.size());
  for (size_t i = 0; i < names.size(); ++i)
    if (!read_nic(p, names[i], &nics[i])) return kExitFailure;
  if (mode) return write_policy(p, names[0], mode);

  if (nics.empty()) {
    printf("no exofusion NIC (none of %s/*/exofusion/)\n", p.net.c_str());
    return kExitOk;
  }
  Histories histories;
  std::string error;
  bool have = read_nicinfo(p, &histories, &error);
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
