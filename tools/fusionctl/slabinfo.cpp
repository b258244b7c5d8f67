// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/slabinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/text.h"

namespace fusionctl {

const Field* find(const Fields& fields, const std::string& key) {
  for (const Field& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

unsigned long long num(const Fields& fields, const char* key) {
  const Field* f = find(fields, key);
  return f && f->is_number ? f->number : 0;
}

const char* word(const Fields& fields, const char* key) {
  const Field* f = find(fields, key);
  return f ? f->word.c_str() : "?";
}

namespace {

// What every cache block must hold: the fields the table shows. Other
// sections and fields are kept (and printed by --json) as they come.
struct Section {
  const char* name;
  std::vector<const char*> keys;
};
const Section kCacheLine = {"cache", {"size", "stride", "per_slab", "order", "magazine", "debug"}};
const Section kSections[] = {
    {"cpu", {"alloc_hits", "free_hits", "alloc_misses", "free_misses"}},
    {"depot", {"full", "empty", "cached", "exchanges", "contended", "magazines"}},
    {"slabs", {"slabs", "empty", "pages", "in_use", "bytes"}},
    {"debug", {"reports", "ticks"}},
};
const Section kResizeLine = {"resize",
                             {"tick", "from", "to", "reason", "ops", "misses", "contended"}};

bool is_key(const std::string& s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

class Parser {
 public:
  explicit Parser(const File& file) : file_(file) {}

  // Each returns false after reporting what is wrong.
  bool line(const std::string& text);
  bool finish();

  Slabinfo info;
  std::string error;  // why line() or finish() returned false

 private:
  bool malformed(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  bool malformed_at(size_t line, const std::string& text, const std::string& why);
  bool pairs(const std::vector<std::string>& words, size_t first, const std::string& prefix,
             const Section& spec, bool reason_is_word, Fields* out);
  bool end_cache();

  File file_;
  size_t number_ = 0;
  std::string text_;
  std::string cache_text_;  // the current cache's "cache" line
};

bool Parser::malformed_at(size_t line, const std::string& text, const std::string& why) {
  error = format("malformed %s, line %zu: %s: '%s'", file_.path.c_str(), line,
                 printable(why).c_str(), printable(text).c_str());
  return false;
}

bool Parser::malformed(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* why = nullptr;
  int n = vasprintf(&why, fmt, ap);
  va_end(ap);
  std::string w = n < 0 ? fmt : why;
  free(why);
  return malformed_at(number_, text_, w);
}

// words[first..] as KEY VALUE pairs, each KEY stored as prefix + KEY.
bool Parser::pairs(const std::vector<std::string>& words, size_t first, const std::string& prefix,
                   const Section& spec, bool reason_is_word, Fields* out) {
  Fields got;
  for (size_t i = first; i < words.size(); i += 2) {
    const std::string& key = words[i];
    if (!is_key(key)) return malformed("'%s' is not a field name", key.c_str());
    if (i + 1 == words.size()) return malformed("'%s' has no value", key.c_str());
    if (find(got, key)) return malformed("'%s' given twice", key.c_str());
    const std::string& value = words[i + 1];
    Field f{key, value, 0, true};
    if (reason_is_word && key == "reason")
      f.is_number = false;
    else if (!parse_decimal(value.c_str(), &f.number))
      return malformed("the value of '%s', '%s', is not a decimal number", key.c_str(),
                       value.c_str());
    got.push_back(f);
  }
  for (const char* key : spec.keys)
    if (!find(got, key)) return malformed("no '%s' in the '%s' line", key, spec.name);
  for (Field& f : got) {
    f.key = prefix + f.key;
    if (find(*out, f.key)) return malformed("'%s' given twice in the cache", f.key.c_str());
    out->push_back(f);
  }
  return true;
}

bool Parser::line(const std::string& text) {
  ++number_;
  text_ = text;
  std::vector<std::string> words = words_of(text);

  if (number_ == 1) {
    if (words.size() != 2 || words[0] != "pages" || !parse_decimal(words[1].c_str(), &info.pages))
      return malformed("expected 'pages N' first");
    return true;
  }
  if (words.empty()) return true;
  const std::string& head = words[0];
  if (head == "pages") return malformed("a second 'pages' line");
  if (head == "cache") {
    if (!info.caches.empty() && !end_cache()) return false;
    if (words.size() < 2) return malformed("a cache line without a name");
    info.caches.push_back(Cache{words[1], number_, {}, {}, {}});
    cache_text_ = text;
    return pairs(words, 2, "", kCacheLine, false, &info.caches.back().fields);
  }
  if (!is_key(head)) return malformed("expected 'cache NAME ...' or a section of a cache");
  if (info.caches.empty()) return malformed("a '%s' line before any 'cache' line", head.c_str());
  Cache& cache = info.caches.back();
  if (head == "resize") {
    cache.resizes.emplace_back();
    return pairs(words, 1, "", kResizeLine, true, &cache.resizes.back());
  }
  for (const std::string& s : cache.sections)
    if (s == head)
      return malformed("a second '%s' line in cache %s", head.c_str(), cache.name.c_str());
  cache.sections.push_back(head);
  Section spec = {head.c_str(), {}};
  for (const Section& s : kSections)
    if (head == s.name) spec.keys = s.keys;
  return pairs(words, 1, head + "_", spec, false, &cache.fields);
}

// The block of the last cache is complete: all its sections are there.
bool Parser::end_cache() {
  const Cache& cache = info.caches.back();
  for (const Section& s : kSections) {
    bool seen = false;
    for (const std::string& name : cache.sections) seen |= name == s.name;
    if (!seen)
      return malformed_at(cache.line, cache_text_,
                          format("cache %s has no '%s' line", cache.name.c_str(), s.name));
  }
  return true;
}

bool Parser::finish() {
  if (number_ == 0) {
    error = format("malformed %s: the file is empty; expected 'pages N' first", file_.path.c_str());
    return false;
  }
  return info.caches.empty() || end_cache();
}

}  // namespace

File slabinfo_file() { return file_of("EXO_SLABINFO", "/sys/kernel/debug/exofusion/slabinfo"); }

bool read_slabinfo(const File& file, Slabinfo* out, std::string* error) {
  FILE* f = fopen(file.path.c_str(), "re");
  if (!f) {
    *error = debugfs_open_error("read", file, errno);
    return false;
  }
  Parser parser(file);
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  bool ok = true;
  errno = 0;
  while (ok && (n = getline(&buf, &cap, f)) >= 0) {
    std::string text(buf, n);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    ok = parser.line(text);
  }
  int err = errno;
  bool read_error = ok && ferror(f);
  free(buf);
  fclose(f);
  if (read_error) {
    *error = format("cannot read %s (%s)", file.path.c_str(), strerror(err ? err : EIO));
    return false;
  }
  if (!ok || !parser.finish()) {
    *error = parser.error;
    return false;
  }
  *out = parser.info;
  return true;
}

namespace {

// Counters as large as a corrupted file makes them must not wrap into
// small ones (a hit rate above 100%, or a rate from nothing).
unsigned long long saturating_add(unsigned long long a, unsigned long long b) {
  return a > ULLONG_MAX - b ? ULLONG_MAX : a + b;
}

}  // namespace

unsigned long long cpu_hits(const Fields& f) {
  return saturating_add(num(f, "cpu_alloc_hits"), num(f, "cpu_free_hits"));
}

unsigned long long cpu_misses(const Fields& f) {
  return saturating_add(num(f, "cpu_alloc_misses"), num(f, "cpu_free_misses"));
}

unsigned long long cpu_ops(const Fields& f) { return saturating_add(cpu_hits(f), cpu_misses(f)); }

double hit_percent(unsigned long long hits, unsigned long long ops) {
  // More hits than operations only comes of a saturated or inconsistent pair.
  return ops ? 100.0 * (hits < ops ? hits : ops) / ops : -1;
}

}  // namespace fusionctl
