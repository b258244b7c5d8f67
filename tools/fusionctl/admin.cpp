// SPDX-License-Identifier: GPL-2.0
// Ring administration: create, destroy, list, stat.
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"
#include "tools/fusionctl/rings.h"
#include "tools/fusionctl/text.h"

namespace fusionctl {
namespace {

constexpr char kTotals[] = "/sys/module/exofusion/totals";  // rings, pages, slab_pages

const char* mode_name(uint32_t mode) { return mode == EXO_MODE_MPMC ? "mpmc" : "spsc"; }

// --- create ---

int run_create(const Args& args) {
  exo_ring_params params{};
  params.name = args.operand(0);
  // Ranges and combinations (power of two, pool rules, perm bits) are the
  // library's to check: it names what is wrong.
  params.capacity = args.u32("--capacity", 1024);
  params.buf_size = args.u32("--buf-size", 0);
  params.buf_count = args.u32("--buf-count", 0);
  params.perm = args.octal("--perm", 0600);
  std::string mode = args.text("--mode", "spsc");
  if (mode == "spsc")
    params.mode = EXO_MODE_SPSC;
  else if (mode == "mpmc")
    params.mode = EXO_MODE_MPMC;
  else
    args.usage_error("--mode: '%s' is neither spsc nor mpmc", mode.c_str());

  exo_ring* ring = nullptr;
  int err = exo_ring_create(&params, EXO_BACKEND_DEVICE, &ring);
  if (err) return fail_lib(err, "create");
  printf("created /dev/exofusion/%s, region %llu bytes\n", params.name,
         static_cast<unsigned long long>(exo_ring_get_info(ring)->region_size));
  exo_ring_close(ring);
  return kExitOk;
}

// --- destroy ---

int run_destroy(const Args& args) {
  const char* name = args.operand(0);
  int err = exo_ring_destroy(name);
  return err ? fail_lib(err, "destroy") : kExitOk;
}

// --- list ---

std::string read_total(const char* file) {
  std::string value;
  return read_value(std::string(kTotals) + "/" + file, &value) == 0 ? value : "?";
}

int run_list(const Args&) {
  std::vector<RingEntry> rings;
  std::string error;
  if (!read_rings(ring_sysfs(), &rings, &error)) return fail("list: %s", error.c_str());

  int width = 4;
  for (const auto& r : rings) width = std::max(width, static_cast<int>(printable(r.name).size()));
  printf("%-*s  %-4s  %8s  %-14s  %12s  %4s\n", width, "NAME", "MODE", "CAPACITY", "POOL",
         "MESSAGES", "OPEN");
  for (const RingEntry& ring : rings) {
    // What sysfs holds is shown, never obeyed: no escape sequence reaches the terminal.
    auto field = [&ring](const char* key) { return printable(stat_text(ring.stats, key)); };
    std::string pool =
        field("buf_count") == "0" ? "-" : field("buf_size") + "x" + field("buf_count");
    printf("%-*s  %-4s  %8s  %-14s  %12s  %4s\n", width, printable(ring.name).c_str(),
           field("mode").c_str(), field("capacity").c_str(), pool.c_str(),
           field("messages").c_str(), field("open_count").c_str());
  }
  // The module's own totals: they also count destroyed rings still in use.
  printf("total: %s rings, %s pages\n", read_total("rings").c_str(), read_total("pages").c_str());
  return kExitOk;
}

// --- stat ---

struct Counter {
  const char* key;
  unsigned long long value;
};

int run_stat(const Args& args) {
  const char* name = args.operand(0);
  bool json = args.flag("--json");
  exo_ring* ring = open_ring("stat", name, owner_option(args));
  if (!ring) return kExitFailure;
  exo_ring_stats st{};
  int err = exo_ring_get_stats(ring, &st);
  exo_ring_close(ring);
  if (err) return fail_lib(err, "stat");

  // In the order of struct exo_ring_stats, mode apart (it is a word).
  const Counter counters[] = {
      {"messages", st.messages},         {"received", st.received},
      {"batches", st.batches},           {"full_events", st.full_events},
      {"empty_events", st.empty_events}, {"sleeps", st.sleeps},
      {"wakeups", st.wakeups},           {"kernel_errors", st.kernel_errors},
      {"region_size", st.region_size},   {"capacity", st.capacity},
      {"buf_size", st.buf_size},         {"buf_count", st.buf_count},
      {"open_count", st.open_count},     {"owner_uid", st.owner_uid},
  };
  // Ring names are [A-Za-z0-9._-] (the library refused others at open), so
  // they need no JSON escaping.
  if (json) {
    printf("{\"name\": \"%s\", \"mode\": \"%s\"", name, mode_name(st.mode));
    for (const Counter& c : counters) printf(", \"%s\": %llu", c.key, c.value);
    printf("}\n");
  } else {
    printf("name: %s\nmode: %s\n", name, mode_name(st.mode));
    for (const Counter& c : counters) printf("%s: %llu\n", c.key, c.value);
  }
  return kExitOk;
}

}  // namespace

const Command kCreate = {
    "create",
    "NAME",
    "create a ring in the module: /dev/exofusion/NAME",
    "Creates the ring NAME in the exofusion module and prints its node and the size\n"
    "of its shared region. The library checks the parameters and names any it refuses.",
    {
        {"--capacity", "N", "message slots, a power of two (default 1024)"},
        {"--mode", "MODE", "spsc or mpmc: one or many senders and receivers (default spsc)"},
        {"--buf-size", "B", "zero-copy buffer size, a multiple of 64 (default 0: no pool)"},
        {"--buf-count", "N", "zero-copy buffers in the pool (default 0)"},
        {"--perm", "MODE", "octal permission bits of the node (default 0600; 0 means 0600)"},
    },
    1,
    1,
    run_create,
};

const Command kDestroy = {
    "destroy",
    "NAME",
    "destroy a ring (its memory goes with its last user)",
    "Removes /dev/exofusion/NAME. Processes that have the ring open keep using it;\n"
    "its memory is freed when the last of them closes it.",
    {},
    1,
    1,
    run_destroy,
};

const Command kList = {
    "list",
    "",
    "list the rings with their main counters and the module's totals",
    "Lists every ring of the module (from /sys/class/exofusion/NAME/stats/): mode,\n"
    "capacity, zero-copy pool (buf_size x buf_count), messages sent so far and open\n"
    "files; then the module's totals of live rings and pages\n"
    "(/sys/module/exofusion/totals/), which also count destroyed rings that are\n"
    "still open. EXO_RING_SYSFS, when set, names another directory of rings.",
    {},
    0,
    0,
    run_list,
};

const Command kStat = {
    "stat",
    "NAME",
    "print every counter of a ring",
    "Prints the counters of ring NAME (EXO_RING_IOC_STATS), one 'key: value' per\n"
    "line or as one JSON object. open_count includes fusionctl's own handle;\n"
    "owner_uid is the creator's uid as the module recorded it.",
    {
        {"--json", nullptr, "print one JSON object"},
        kOwnerOption,
    },
    1,
    1,
    run_stat,
};

}  // namespace fusionctl
