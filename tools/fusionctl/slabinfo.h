// SPDX-License-Identifier: GPL-2.0
// The module's slab caches as debugfs shows them (exofusion/slabinfo): the
// one parser, which 'slab' and 'top' share.
#ifndef FUSIONCTL_SLABINFO_H
#define FUSIONCTL_SLABINFO_H

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "tools/fusionctl/files.h"

namespace fusionctl {

struct Field {
  std::string key;
  std::string word;  // for the few values that are words (a resize's reason)
  uint64_t number;
  bool is_number;
};
using Fields = std::vector<Field>;

const Field* find(const Fields& fields, const std::string& key);
// A number the parser made sure is there (0 for one it did not require).
unsigned long long num(const Fields& fields, const char* key);
const char* word(const Fields& fields, const char* key);

struct Cache {
  std::string name;
  size_t line;    // of its "cache" line
  Fields fields;  // the cache line's as they are, a section's as SECTION_KEY
  std::vector<std::string> sections;
  std::vector<Fields> resizes;  // oldest first
};

struct Slabinfo {
  uint64_t pages = 0;
  std::vector<Cache> caches;
};

// /sys/kernel/debug/exofusion/slabinfo, or the file EXO_SLABINFO names.
File slabinfo_file();

// Reads and parses |file|; on failure false, with |error| saying why
// (no "fusionctl: COMMAND: " prefix).
[[nodiscard]] bool read_slabinfo(const File& file, Slabinfo* out, std::string* error);

// The per-CPU magazines' hits and misses, allocations and frees together,
// and both (their operations); each stops at ULLONG_MAX rather than wrap.
unsigned long long cpu_hits(const Fields& fields);
unsigned long long cpu_misses(const Fields& fields);
unsigned long long cpu_ops(const Fields& fields);

// Percent of |hits| in |ops|; negative when there were none.
double hit_percent(unsigned long long hits, unsigned long long ops);

}  // namespace fusionctl

#endif  // FUSIONCTL_SLABINFO_H
