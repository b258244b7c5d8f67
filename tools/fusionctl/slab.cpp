// SPDX-License-Identifier: GPL-2.0
// slab: the module's slab caches, as debugfs shows them
// (exofusion/slabinfo), and the commands exofusion/slab_ctl takes.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"
#include "tools/fusionctl/slabinfo.h"
#include "tools/fusionctl/text.h"

namespace fusionctl {
namespace {

// --- printing ---

void print_json_string(const std::string& s) { fputs(json_string(s).c_str(), stdout); }

void print_json_fields(const Fields& fields, bool first) {
  for (const Field& f : fields) {
    printf(first ? "" : ", ");
    first = false;
    print_json_string(f.key);
    printf(": ");
    if (f.is_number)
      printf("%llu", static_cast<unsigned long long>(f.number));
    else
      print_json_string(f.word);
  }
}

// {"pages": N, "caches": [{"name": ..., the cache line's fields, each
// section's as SECTION_KEY, "resizes": [{...}, ...]}, ...]}, one cache a line.
void print_json(const Slabinfo& info) {
  printf("{\"pages\": %llu, \"caches\": [", static_cast<unsigned long long>(info.pages));
  for (size_t i = 0; i < info.caches.size(); ++i) {
    const Cache& c = info.caches[i];
    printf("%s\n  {\"name\": ", i ? "," : "");
    print_json_string(c.name);
    print_json_fields(c.fields, false);
    printf(", \"resizes\": [");
    for (size_t j = 0; j < c.resizes.size(); ++j) {
      printf("%s{", j ? ", " : "");
      print_json_fields(c.resizes[j], true);
      printf("}");
    }
    printf("]}");
  }
  printf("%s]}\n", info.caches.empty() ? "" : "\n");
}

void print_table(const Slabinfo& info) {
  printf("slab caches: %zu, pages held: %llu\n", info.caches.size(),
         static_cast<unsigned long long>(info.pages));
  for (const Cache& c : info.caches) {
    const Fields& f = c.fields;
    printf("\n%s: size %llu, stride %llu, per slab %llu, order %llu, magazine %llu, debug %s\n",
           printable(c.name).c_str(), num(f, "size"), num(f, "stride"), num(f, "per_slab"), num(f, "order"),
           num(f, "magazine"), num(f, "debug") ? "on" : "off");

    double percent = hit_percent(cpu_hits(f), cpu_ops(f));
    std::string rate = percent < 0 ? "-" : format("%.1f%%", percent);
    printf("  cpu    hit rate %s (alloc hits %llu, misses %llu; free hits %llu, misses %llu)\n",
           rate.c_str(), num(f, "cpu_alloc_hits"), num(f, "cpu_alloc_misses"),
           num(f, "cpu_free_hits"), num(f, "cpu_free_misses"));
    printf(
        "  depot  magazines %llu (full %llu, empty %llu), cached %llu, exchanges %llu, "
        "contended %llu\n",
        num(f, "depot_magazines"), num(f, "depot_full"), num(f, "depot_empty"),
        num(f, "depot_cached"), num(f, "depot_exchanges"), num(f, "depot_contended"));
    printf("  slabs  slabs %llu (empty %llu), pages %llu, bytes %llu, in use %llu\n",
           num(f, "slabs_slabs"), num(f, "slabs_empty"), num(f, "slabs_pages"),
           num(f, "slabs_bytes"), num(f, "slabs_in_use"));
    printf("  debug  reports %llu, ticks %llu\n", num(f, "debug_reports"), num(f, "debug_ticks"));

    if (c.resizes.empty()) {
      printf("  magazine resizes: none\n");
      continue;
    }
    printf("  magazine resizes, oldest first:\n");
    printf("    %8s %6s %6s  %-16s %10s %10s %10s\n", "TICK", "FROM", "TO", "REASON", "OPS",
           "MISSES", "CONTENDED");
    for (const Fields& r : c.resizes)
      printf("    %8llu %6llu %6llu  %-16s %10llu %10llu %10llu\n", num(r, "tick"), num(r, "from"),
             num(r, "to"), printable(word(r, "reason")).c_str(), num(r, "ops"), num(r, "misses"),
             num(r, "contended"));
  }
}

int write_ctl(const char* command) {
  File file = file_of("EXO_SLAB_CTL", "/sys/kernel/debug/exofusion/slab_ctl");
  int fd = open(file.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail("slab: %s", debugfs_open_error("write", file, errno).c_str());
  ssize_t n = write(fd, command, strlen(command));
  int err = errno;
  if (close(fd) != 0 && n >= 0) {
    n = -1;
    err = errno;
  }
  if (n < 0)
    return fail("slab: writing '%s' to %s failed (%s)", command, file.path.c_str(), strerror(err));
  if (static_cast<size_t>(n) != strlen(command))
    return fail("slab: %s took only %zd of the %zu bytes of '%s'", file.path.c_str(), n,
                strlen(command), command);
  return kExitOk;
}

int run_slab(const Args& args) {
  const char* command = args.operand_count() ? args.operand(0) : "stat";
  bool json = args.flag("--json");
  if (!strcmp(command, "stat")) {
    Slabinfo info;
    std::string error;
    if (!read_slabinfo(slabinfo_file(), &info, &error)) return fail("slab: %s", error.c_str());
    if (json)
      print_json(info);
    else
      print_table(info);
    return kExitOk;
  }
  if (strcmp(command, "shrink") && strcmp(command, "pressure") && strcmp(command, "tick"))
    args.usage_error("unknown slab command '%s': expected stat, shrink, pressure or tick", command);
  if (json) args.usage_error("--json goes with 'stat' only, not '%s'", command);
  return write_ctl(command);
}

}  // namespace

const Command kSlab = {
    "slab",
    "[stat|shrink|pressure|tick]",
    "show the module's slab caches, or shrink them or run their tick",
    "stat (the default) prints each slab cache of the module, from\n"
    "/sys/kernel/debug/exofusion/slabinfo: its object size and geometry, the current\n"
    "magazine size, then its three levels: the hit rate of the per-CPU magazines, the\n"
    "depot's magazines, cached objects, exchanges and lock contention, and the slabs'\n"
    "pages, bytes and objects in use; last the trace of the adaptive magazine size.\n"
    "--json prints the same values as one JSON object: {\"pages\": N, \"caches\": [...]},\n"
    "each cache with its name, the fields of its cache line, those of each section\n"
    "line as SECTION_KEY (cpu_alloc_hits, depot_cached, slabs_in_use, ...) and a list\n"
    "\"resizes\" of {tick, from, to, reason, ops, misses, contended}.\n\n"
    "The other commands are written to /sys/kernel/debug/exofusion/slab_ctl:\n"
    "  shrink    drain every CPU's magazines and return cached objects and empty\n"
    "            slabs to the page allocator\n"
    "  pressure  the same, and halve the magazine sizes\n"
    "  tick      run the caches' periodic tick now\n\n"
    "Both files need root, a mounted debugfs (mount -t debugfs none /sys/kernel/debug)\n"
    "and the module loaded (insmod exofusion.ko). The environment variables\n"
    "EXO_SLABINFO and EXO_SLAB_CTL, when set, name other files to use instead.",
    {
        {"--json", nullptr, "stat: print one JSON object"},
    },
    0,
    1,
    run_slab,
};

}  // namespace fusionctl
