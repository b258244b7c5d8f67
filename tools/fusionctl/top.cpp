// SPDX-License-Identifier: GPL-2.0
// top: the module at work, sampled every interval: each ring's messages,
// sleeps, wake-ups and errors per second, the slab caches' hit rates and
// magazine sizes, each NIC's mode and packet rate. Every rate is the
// difference of two samples' counters over the time between them, so a
// report needs two samples: the first report comes one interval after the
// start.
//
// It reads what 'list', 'slab' and 'nic' read, through the same readers
// (rings.h, slabinfo.h, nics.h); a part that cannot be read is reported as
// missing, with why, and the others are shown.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"
#include "tools/fusionctl/nics.h"
#include "tools/fusionctl/rings.h"
#include "tools/fusionctl/slabinfo.h"
#include "tools/fusionctl/terminal.h"
#include "tools/fusionctl/text.h"

namespace fusionctl {
namespace {

// --- samples ---

// A ring's counters that top follows: the first kRated get a delta and a
// rate per second, the others are shown as they are.
const char* const kRingKeys[] = {"messages", "received",   "sleeps",   "wakeups",
                                 "kernel_errors", "capacity", "open_count", "owner_uid"};
constexpr size_t kRated = 5;
constexpr size_t kRingKeyCount = sizeof(kRingKeys) / sizeof(kRingKeys[0]);
enum RingKey { kMessages, kReceived, kSleeps, kWakeups, kErrors, kCapacity, kOpen, kOwner };

struct RingSample {
  std::string name, mode;
  unsigned long long id;  // RingEntry::id
  uint64_t values[kRingKeyCount];
};

struct NicSample {
  Nic nic;
  bool have_packets;  // statistics/ was readable
  uint64_t rx_packets, tx_packets;
};

// One part of a sample: its data, or why it is missing.
template <typename T>
struct Part {
  bool ok = false;
  std::string error;
  T data;
};

struct Sample {
  timespec time;
  Part<std::vector<RingSample>> rings;
  Part<Slabinfo> slab;
  Part<std::vector<NicSample>> nics;
};

// A ring whose counters are not all numbers is being torn down (or is not
// a ring): false, and it is left out like one already gone.
bool ring_sample(const RingEntry& entry, RingSample* out) {
  out->name = entry.name;
  out->id = entry.id;
  out->mode = stat_text(entry.stats, "mode");
  for (size_t i = 0; i < kRingKeyCount; ++i)
    if (!parse_decimal(stat_text(entry.stats, kRingKeys[i]).c_str(), &out->values[i]))
      return false;
  return true;
}

void read_ring_part(Part<std::vector<RingSample>>* part) {
  std::vector<RingEntry> entries;
  part->ok = read_rings(ring_sysfs(), &entries, &part->error);
  for (const RingEntry& e : entries) {
    RingSample r;
    if (ring_sample(e, &r)) part->data.push_back(r);
  }
}

// A NIC unbound between the listing and its reading is left out.
void read_nic_part(Part<std::vector<NicSample>>* part) {
  File net = net_sysfs();
  std::vector<std::string> names;
  part->ok = list_nics(net, &names, &part->error);
  for (const std::string& name : names) {
    NicSample s{};
    std::string ignored;
    if (!read_nic(net, name, &s.nic, &ignored)) continue;
    s.have_packets = read_packets(net, name, &s.rx_packets, &s.tx_packets);
    part->data.push_back(s);
  }
}

Sample take_sample() {
  Sample s;
  s.time = monotonic_now();
  read_ring_part(&s.rings);
  s.slab.ok = read_slabinfo(slabinfo_file(), &s.slab.data, &s.slab.error);
  read_nic_part(&s.nics);
  return s;
}

// --- differences between two samples ---

// A counter's change since the last sample: unknown when there is no last
// sample of it, or when it went back (a ring destroyed and created again
// under its name that previous_ring() could not tell apart).
struct Delta {
  bool known;
  uint64_t delta;
  double per_s;
};

Delta delta_of(uint64_t now, const uint64_t* before, double interval) {
  if (!before || now < *before) return {false, 0, 0};
  uint64_t d = now - *before;
  return {true, d, interval > 0 ? d / interval : 0};
}

template <typename T, typename Key>
const T* find_by(const std::vector<T>& items, const std::string& name, Key key) {
  for (const T& item : items)
    if (key(item) == name) return &item;
  return nullptr;
}

const RingSample* find_ring(const Sample& s, const std::string& name) {
  return find_by(s.rings.data, name, [](const RingSample& r) { return r.name; });
}

// |r| in the last sample: the same ring, not one created again since
// under its name.
const RingSample* previous_ring(const Sample& before, const RingSample& r) {
  const RingSample* old = find_ring(before, r.name);
  return old && old->id == r.id ? old : nullptr;
}

const Cache* find_cache(const Sample& s, const std::string& name) {
  return find_by(s.slab.data.caches, name, [](const Cache& c) { return c.name; });
}

const NicSample* find_nic(const Sample& s, const std::string& name) {
  return find_by(s.nics.data, name, [](const NicSample& n) { return n.nic.name; });
}

// The rings of |before| that |now| no longer has: destroyed meanwhile.
std::vector<std::string> rings_gone(const Sample& before, const Sample& now) {
  std::vector<std::string> gone;
  if (!now.rings.ok) return gone;
  for (const RingSample& r : before.rings.data)
    if (!find_ring(now, r.name)) gone.push_back(r.name);
  return gone;
}

Delta ring_delta(const RingSample& r, const RingSample* before, size_t key, double interval) {
  return delta_of(r.values[key], before ? &before->values[key] : nullptr, interval);
}

// A cache's per-CPU operations (allocations and frees) since the last
// sample, and how many of them the magazines served.
struct CacheDelta {
  Delta ops, hits;
};

CacheDelta cache_delta(const Cache& c, const Cache* before, double interval) {
  uint64_t ops = cpu_ops(c.fields), hits = cpu_hits(c.fields);
  if (!before) return {delta_of(ops, nullptr, interval), delta_of(hits, nullptr, interval)};
  uint64_t ops_before = cpu_ops(before->fields);
  uint64_t hits_before = cpu_hits(before->fields);
  return {delta_of(ops, &ops_before, interval), delta_of(hits, &hits_before, interval)};
}

Delta packets_delta(const NicSample& n, const NicSample* before, bool rx, double interval) {
  if (!n.have_packets) return {false, 0, 0};
  const uint64_t* old = nullptr;
  if (before && before->have_packets) old = rx ? &before->rx_packets : &before->tx_packets;
  return delta_of(rx ? n.rx_packets : n.tx_packets, old, interval);
}

// --- JSON: one object per report, on one line ---

std::string json_number(const Delta& d, bool rate) {
  if (!d.known) return "null";
  return rate ? format("%.3f", d.per_s) : format("%llu", static_cast<unsigned long long>(d.delta));
}

std::string json_percent(double percent) {
  return percent < 0 ? "null" : format("%.2f", percent);
}

std::string ring_json(const RingSample& r, const RingSample* before, double interval) {
  std::string out = format("{\"name\": %s, \"mode\": %s, \"new\": %s", json_string(r.name).c_str(),
                           json_string(r.mode).c_str(), before ? "false" : "true");
  for (size_t i = kRated; i < kRingKeyCount; ++i)
    out += format(", \"%s\": %llu", kRingKeys[i], static_cast<unsigned long long>(r.values[i]));
  for (size_t i = 0; i < kRated; ++i) {
    Delta d = ring_delta(r, before, i, interval);
    out += format(", \"%s\": %llu, \"%s_delta\": %s, \"%s_per_s\": %s", kRingKeys[i],
                  static_cast<unsigned long long>(r.values[i]), kRingKeys[i],
                  json_number(d, false).c_str(), kRingKeys[i], json_number(d, true).c_str());
  }
  return out + "}";
}

std::string cache_json(const Cache& c, const Cache* before, double interval) {
  CacheDelta d = cache_delta(c, before, interval);
  uint64_t hits = cpu_hits(c.fields), misses = cpu_misses(c.fields);
  return format(
      "{\"name\": %s, \"new\": %s, \"magazine\": %llu, \"in_use\": %llu, \"pages\": %llu, "
      "\"hits\": %llu, \"misses\": %llu, \"ops_delta\": %s, \"ops_per_s\": %s, "
      "\"hit_rate\": %s, \"hit_rate_total\": %s}",
      json_string(c.name).c_str(), before ? "false" : "true", num(c.fields, "magazine"),
      num(c.fields, "slabs_in_use"), num(c.fields, "slabs_pages"),
      static_cast<unsigned long long>(hits), static_cast<unsigned long long>(misses),
      json_number(d.ops, false).c_str(), json_number(d.ops, true).c_str(),
      d.ops.known ? json_percent(hit_percent(d.hits.delta, d.ops.delta)).c_str() : "null",
      json_percent(hit_percent(hits, cpu_ops(c.fields))).c_str());
}

std::string nic_json(const NicSample& n, const NicSample* before, double interval) {
  const std::map<std::string, uint64_t>& v = n.nic.numbers;
  std::string out = format("{\"name\": %s, \"new\": %s, \"pci\": %s, \"policy\": %s, \"mode\": %s",
                           json_string(n.nic.name).c_str(), before ? "false" : "true",
                           json_string(n.nic.pci).c_str(), json_string(n.nic.policy).c_str(),
                           json_string(n.nic.mode).c_str());
  for (const char* key : {"rate_pps", "batch_x16", "irq_rate", "mode_changes"})
    out += format(", \"%s\": %llu", key, static_cast<unsigned long long>(v.at(key)));
  for (bool rx : {true, false}) {
    const char* dir = rx ? "rx" : "tx";
    std::string total = n.have_packets ? format("%llu", static_cast<unsigned long long>(
                                                            rx ? n.rx_packets : n.tx_packets))
                                       : "null";
    out += format(", \"%s_packets\": %s, \"%s_packets_per_s\": %s", dir, total.c_str(), dir,
                  json_number(packets_delta(n, before, rx, interval), true).c_str());
  }
  return out + "}";
}

template <typename T, typename F>
std::string json_list(const std::vector<T>& items, F each) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + each(items[i]);
  return out + "]";
}

std::string missing_json(const Sample& s) {
  std::vector<std::pair<const char*, std::string>> missing;
  if (!s.rings.ok) missing.emplace_back("rings", s.rings.error);
  if (!s.slab.ok) missing.emplace_back("slab", s.slab.error);
  if (!s.nics.ok) missing.emplace_back("nics", s.nics.error);
  return json_list(missing, [](const auto& m) {
    return format("{\"part\": \"%s\", \"error\": %s}", m.first, json_string(m.second).c_str());
  });
}

void print_json(const Sample& before, const Sample& now) {
  double interval = seconds_of(now.time) - seconds_of(before.time);
  std::string rings = !now.rings.ok ? "null" : json_list(now.rings.data, [&](const RingSample& r) {
    return ring_json(r, previous_ring(before, r), interval);
  });
  std::string slab = "null";
  if (now.slab.ok)
    slab = format("{\"pages\": %llu, \"caches\": %s}",
                  static_cast<unsigned long long>(now.slab.data.pages),
                  json_list(now.slab.data.caches, [&](const Cache& c) {
                    return cache_json(c, find_cache(before, c.name), interval);
                  }).c_str());
  std::string nics = !now.nics.ok ? "null" : json_list(now.nics.data, [&](const NicSample& n) {
    return nic_json(n, find_nic(before, n.nic.name), interval);
  });
  std::string gone = json_list(rings_gone(before, now),
                               [](const std::string& name) { return json_string(name); });
  printf("{\"time\": %.6f, \"interval_s\": %.6f, \"rings\": %s, \"rings_gone\": %s, \"slab\": %s, "
         "\"nics\": %s, \"missing\": %s}\n",
         seconds_of(now.time), interval, rings.c_str(), gone.c_str(), slab.c_str(), nics.c_str(),
         missing_json(now).c_str());
}

// --- text: the live view's frame, or a report on its own ---

using Lines = std::vector<std::string>;

std::string rate_text(const Delta& d) { return d.known ? format("%.1f", d.per_s) : "-"; }

std::string percent_text(double percent) {
  return percent < 0 ? "-" : format("%.1f%%", percent);
}

// kernel_errors so far, and "(+N)" when some are new since the last sample.
std::string errors_text(const RingSample& r, const RingSample* before) {
  Delta d = ring_delta(r, before, kErrors, 0);
  std::string total = format("%llu", static_cast<unsigned long long>(r.values[kErrors]));
  return d.known && d.delta ? total + format(" (+%llu)", static_cast<unsigned long long>(d.delta))
                            : total;
}

void ring_lines(const Sample& before, const Sample& now, double interval, Lines* out) {
  if (!now.rings.ok) {
    out->push_back("rings: missing: " + now.rings.error);
    return;
  }
  int width = 4;
  for (const RingSample& r : now.rings.data)
    width = std::max(width, static_cast<int>(printable(r.name).size()));
  out->push_back(format("%-*s  %-4s  %10s  %10s  %9s  %9s  %12s  %4s", width, "RING", "MODE",
                        "MSGS/S", "RECV/S", "SLEEPS/S", "WAKEUPS/S", "ERRORS", "OPEN"));
  for (const RingSample& r : now.rings.data) {
    const RingSample* old = previous_ring(before, r);
    out->push_back(format("%-*s  %-4s  %10s  %10s  %9s  %9s  %12s  %4llu", width,
                          printable(r.name).c_str(), printable(r.mode).c_str(),
                          rate_text(ring_delta(r, old, kMessages, interval)).c_str(),
                          rate_text(ring_delta(r, old, kReceived, interval)).c_str(),
                          rate_text(ring_delta(r, old, kSleeps, interval)).c_str(),
                          rate_text(ring_delta(r, old, kWakeups, interval)).c_str(),
                          errors_text(r, old).c_str(),
                          static_cast<unsigned long long>(r.values[kOpen])));
  }
  if (now.rings.data.empty()) out->push_back("(no rings)");
  std::vector<std::string> gone = rings_gone(before, now);
  if (!gone.empty()) {
    std::string names;
    for (const std::string& g : gone) names += (names.empty() ? "" : ", ") + printable(g);
    out->push_back("destroyed since the last sample: " + names);
  }
}

void slab_lines(const Sample& before, const Sample& now, double interval, Lines* out) {
  if (!now.slab.ok) {
    out->push_back("slab caches: missing: " + now.slab.error);
    return;
  }
  int width = 10;
  for (const Cache& c : now.slab.data.caches)
    width = std::max(width, static_cast<int>(printable(c.name).size()));
  out->push_back(format("%-*s  %8s  %10s  %7s  %9s  %10s", width, "SLAB CACHE", "MAGAZINE",
                        "OPS/S", "HIT%", "HIT%-ALL", "IN-USE"));
  for (const Cache& c : now.slab.data.caches) {
    CacheDelta d = cache_delta(c, find_cache(before, c.name), interval);
    out->push_back(format(
        "%-*s  %8llu  %10s  %7s  %9s  %10llu", width, printable(c.name).c_str(),
        num(c.fields, "magazine"), rate_text(d.ops).c_str(),
        d.ops.known ? percent_text(hit_percent(d.hits.delta, d.ops.delta)).c_str() : "-",
        percent_text(hit_percent(cpu_hits(c.fields), cpu_ops(c.fields))).c_str(),
        num(c.fields, "slabs_in_use")));
  }
  if (now.slab.data.caches.empty()) out->push_back("(no slab caches)");
}

void nic_lines(const Sample& before, const Sample& now, double interval, Lines* out) {
  if (!now.nics.ok) {
    out->push_back("NICs: missing: " + now.nics.error);
    return;
  }
  if (now.nics.data.empty()) {
    out->push_back("(no exofusion NIC)");
    return;
  }
  out->push_back(format("%-12s  %-10s  %-10s  %10s  %10s  %10s  %8s", "NIC", "POLICY", "MODE",
                        "RATE_PPS", "RX/S", "TX/S", "IRQ/S"));
  for (const NicSample& n : now.nics.data) {
    const NicSample* old = find_nic(before, n.nic.name);
    out->push_back(format("%-12s  %-10s  %-10s  %10llu  %10s  %10s  %8llu",
                          printable(n.nic.name).c_str(), printable(n.nic.policy).c_str(),
                          printable(n.nic.mode).c_str(),
                          static_cast<unsigned long long>(n.nic.numbers.at("rate_pps")),
                          rate_text(packets_delta(n, old, true, interval)).c_str(),
                          rate_text(packets_delta(n, old, false, interval)).c_str(),
                          static_cast<unsigned long long>(n.nic.numbers.at("irq_rate"))));
  }
}

// |before| is |now| itself for the live view's first frame: no rates yet.
Lines report_lines(const Sample& before, const Sample& now, const std::string& title) {
  double interval = seconds_of(now.time) - seconds_of(before.time);
  Lines lines = {title, ""};
  const Sample empty{};
  const Sample& old = &before == &now ? empty : before;
  ring_lines(old, now, interval, &lines);
  lines.push_back("");
  slab_lines(old, now, interval, &lines);
  lines.push_back("");
  nic_lines(old, now, interval, &lines);
  return lines;
}

// --- the loop ---

struct Options {
  bool json, once, live, keys;
  double interval;
  uint64_t iterations;  // reports to print; 0: until told to stop
};

Options options_of(const Args& args) {
  Options o{};
  o.json = args.flag("--json");
  o.once = args.flag("--once");
  o.interval = args.seconds("--interval", 2, 0.1, 3600);
  if (o.once && args.given("--iterations"))
    args.usage_error("--once and --iterations exclude each other (--once is --iterations 1)");
  o.iterations = o.once ? 1 : args.number("--iterations", 0, 1, UINT32_MAX);
  // Redrawn in place only on a terminal; into a pipe or a file, reports
  // follow each other (as top -b).
  o.live = !o.json && !o.once && isatty(STDOUT_FILENO);
  o.keys = o.live && isatty(STDIN_FILENO);
  return o;
}

std::string clock_text() {
  time_t t = time(nullptr);
  char buf[16] = "";
  strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&t));
  return buf;
}

// Writes the report of |now| against |before| the way |o| asks.
void emit(const Options& o, const Sample& before, const Sample& now, Screen* screen) {
  double interval = seconds_of(now.time) - seconds_of(before.time);
  if (o.json) {
    print_json(before, now);
    fflush(stdout);  // a reader of the pipe gets each report as it is made
    return;
  }
  if (screen) {
    std::string title =
        format("fusionctl top - %s - every %g s - q quits", clock_text().c_str(), o.interval);
    if (&before == &now) title += " - first rates in " + format("%g s", o.interval);
    screen->draw(report_lines(before, now, title));
    return;
  }
  for (const std::string& line : report_lines(before, now, format("fusionctl top: over %.2f s",
                                                                  interval)))
    printf("%s\n", line.c_str());
  printf("\n");
  fflush(stdout);
}

// Samples and reports until the iterations are done, q, or a signal;
// returns the signal that stopped it, or 0.
int loop(const Options& o, Events* events, Screen* screen, Sample first) {
  // The last two samples: a redraw (a resized terminal, a key) shows the
  // last report again, without sampling out of turn.
  Sample older, last = std::move(first);
  bool reported = false;
  auto redraw = [&] {
    if (screen) emit(o, reported ? older : last, last, screen);
  };
  redraw();
  for (uint64_t done = 0; o.iterations == 0 || done < o.iterations;) {
    // From the last sample's time: a slow sample delays the next one
    // rather than shortening its interval.
    switch (events->wait_until(add_seconds(last.time, o.interval))) {
      case Events::Event::kQuit:
        return 0;
      case Events::Event::kSignal:
        return events->signal();
      case Events::Event::kResize:
        redraw();
        continue;
      case Events::Event::kDeadline:
        break;
    }
    Sample now = take_sample();
    emit(o, last, now, screen);
    older = std::move(last);
    last = std::move(now);
    reported = true;
    ++done;
  }
  return 0;
}

int run_top(const Args& args) {
  Options o = options_of(args);
  Sample first = take_sample();
  // Without the module there are no rings to show; the other parts can be
  // missing (debugfs not mounted, not root) and are shown as such.
  if (!first.rings.ok) return fail("top: %s", first.rings.error.c_str());
  int stopped_by = 0;
  {
    Events events;
    std::string error;
    if (!events.start(&error)) return fail("top: %s", error.c_str());
    if (o.keys && !events.use_keys(&error)) return fail("top: %s", error.c_str());
    if (o.live) {
      Screen screen;
      stopped_by = loop(o, &events, &screen, std::move(first));
    } else {
      stopped_by = loop(o, &events, nullptr, std::move(first));
    }
  }  // the terminal and the signal handlers are back as they were
  if (stopped_by) {
    // Die of the signal, as the shell and a parent expect of SIGINT.
    fflush(stdout);
    signal(stopped_by, SIG_DFL);
    raise(stopped_by);
  }
  return kExitOk;
}

}  // namespace

const Command kTop = {
    "top",
    "",
    "watch the rings, slab caches and NICs at work, refreshed like top",
    "Samples the module every interval and shows what changed since the last sample:\n"
    "each ring's messages sent and received, sleeps and wake-ups per second and its\n"
    "kernel errors (new ones as \"(+N)\"), from /sys/class/exofusion/NAME/stats/ (readable\n"
    "by every user); each slab cache's magazine size, operations per second and the\n"
    "per-CPU magazines' hit rate over the interval and since load, from\n"
    "/sys/kernel/debug/exofusion/slabinfo (root, debugfs mounted); each NIC's policy,\n"
    "mode, the driver's rate estimate and the packets per second it received and sent,\n"
    "from /sys/class/net/IFNAME/exofusion/ and statistics/. A part that cannot be read\n"
    "is shown as missing, with why; a ring destroyed since the last sample is named once.\n\n"
    "On a terminal the view is redrawn in place; q, ^C, ^\\, SIGTERM or a hang-up ends it\n"
    "and puts the terminal back. Into a pipe or a file, reports follow each other. Rates\n"
    "need two samples, so the first report (--once: the only one) comes one interval\n"
    "after the start.\n\n"
    "--json prints one JSON object per report, on one line:\n"
    "  {\"time\": CLOCK_MONOTONIC seconds of the sample, \"interval_s\": since the last,\n"
    "   \"rings\": [{\"name\", \"mode\", \"new\", \"capacity\", \"open_count\", \"owner_uid\",\n"
    "     and for each of messages, received, sleeps, wakeups, kernel_errors: C (the\n"
    "     total), C_delta and C_per_s}],\n"
    "   \"rings_gone\": [names of rings destroyed since the last sample],\n"
    "   \"slab\": {\"pages\", \"caches\": [{\"name\", \"new\", \"magazine\", \"in_use\", \"pages\",\n"
    "     \"hits\", \"misses\", \"ops_delta\", \"ops_per_s\", \"hit_rate\", \"hit_rate_total\"}]},\n"
    "   \"nics\": [{\"name\", \"new\", \"pci\", \"policy\", \"mode\", \"rate_pps\", \"batch_x16\",\n"
    "     \"irq_rate\", \"mode_changes\", \"rx_packets\", \"tx_packets\", \"rx_packets_per_s\",\n"
    "     \"tx_packets_per_s\"}],\n"
    "   \"missing\": [{\"part\": \"rings\"|\"slab\"|\"nics\", \"error\": why}]}\n"
    "A part that is missing is null. Deltas, rates and hit rates are null when unknown:\n"
    "for what is \"new\" (not in the last sample, or a ring destroyed and created again\n"
    "under its name since), a hit rate without operations, a NIC without statistics/.\n"
    "Hit rates are percents.\n\n"
    "Exit status 0 after the iterations or q; killed by the signal after ^C, ^\\, SIGTERM\n"
    "or SIGHUP; 1 when the module is not loaded. EXO_RING_SYSFS, EXO_SLABINFO,\n"
    "EXO_NET_SYSFS, when set, name other places to read instead.",
    {
        {"--interval", "SECONDS", "time between samples, e.g. 0.5 (default 2)"},
        {"--once", nullptr, "print one report (over one interval) and exit"},
        {"--iterations", "N", "print N reports and exit (default: until q or a signal)"},
        {"--json", nullptr, "print one JSON object per report instead of the view"},
    },
    0,
    0,
    run_top,
};

}  // namespace fusionctl
