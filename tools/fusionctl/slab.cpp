// SPDX-License-Identifier: GPL-2.0
// slab: the module's slab caches, as debugfs shows them
// (exofusion/slabinfo), and the commands exofusion/slab_ctl takes.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"

namespace fusionctl {
namespace {

constexpr char kDebugfs[] = "/sys/kernel/debug";
constexpr long kDebugfsMagic = 0x64626720;  // DEBUGFS_MAGIC, <linux/magic.h>
constexpr char kModule[] = "/sys/module/exofusion";

// A file of the module's, or the one an environment variable names instead.
struct File {
  std::string path;
  const char* env;  // the variable that named it; nullptr for the module's own
};

File file_of(const char* env, const char* standard) {
  const char* v = getenv(env);
  if (v && *v) return {v, env};
  return {standard, nullptr};
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* s = nullptr;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) return fmt;
  std::string out(s);
  free(s);
  return out;
}

// Why |file| could not be opened (errno |err|), and what would fix it.
int fail_open(const char* verb, const File& file, int err) {
  std::string what = format("slab: cannot %s %s%s%s (%s)", verb, file.env ? file.env : "",
                            file.env ? "=" : "", file.path.c_str(), strerror(err));
  if (!file.env) {
    struct statfs fs;
    if (statfs(kDebugfs, &fs) != 0 || fs.f_type != kDebugfsMagic)
      return fail(
          "%s: debugfs is not mounted at %s; mount it with "
          "'mount -t debugfs none %s'",
          what.c_str(), kDebugfs, kDebugfs);
    if (access(kModule, F_OK) != 0)
      return fail("%s: the exofusion module is not loaded; load it with 'insmod exofusion.ko'",
                  what.c_str());
  }
  if (err == EACCES || err == EPERM)
    return fail("%s: %srun fusionctl as root", what.c_str(),
                file.env ? "" : "the module's debugfs files are root's; ");
  if (err == ENOENT && !file.env)
    return fail(
        "%s: the loaded exofusion module has no slab caches; is it an older "
        "exofusion.ko? (rmmod exofusion; insmod exofusion.ko)",
        what.c_str());
  return fail("%s", what.c_str());
}

// --- the parsed slabinfo ---

struct Field {
  std::string key;
  std::string word;  // for the few values that are words (a resize's reason)
  uint64_t number;
  bool is_number;
};
using Fields = std::vector<Field>;

const Field* find(const Fields& fields, const std::string& key) {
  for (const Field& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

// A number the parser made sure is there.
unsigned long long num(const Fields& fields, const char* key) {
  const Field* f = find(fields, key);
  return f && f->is_number ? f->number : 0;
}

const char* word(const Fields& fields, const char* key) {
  const Field* f = find(fields, key);
  return f ? f->word.c_str() : "?";
}

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

// Text from the file as a message can show it: printable, and not too long.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

class Parser {
 public:
  explicit Parser(const File& file) : file_(file) {}

  // Each returns false after reporting what is wrong.
  bool line(const std::string& text);
  bool finish();

  Slabinfo info;

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
  fail("slab: malformed %s, line %zu: %s: '%s'", file_.path.c_str(), line, printable(why).c_str(),
       printable(text).c_str());
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
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = text.find_first_not_of(" \t", i);
    if (start == std::string::npos) break;
    size_t end = text.find_first_of(" \t", start);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    i = end;
  }

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
    fail("slab: malformed %s: the file is empty; expected 'pages N' first", file_.path.c_str());
    return false;
  }
  return info.caches.empty() || end_cache();
}

// Reads and parses |file|; false after reporting why it could not.
bool read_slabinfo(const File& file, Slabinfo* out) {
  FILE* f = fopen(file.path.c_str(), "re");
  if (!f) {
    fail_open("read", file, errno);
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
    fail("slab: cannot read %s (%s)", file.path.c_str(), strerror(err ? err : EIO));
    return false;
  }
  if (!ok || !parser.finish()) return false;
  *out = parser.info;
  return true;
}

// --- printing ---

void print_json_string(const std::string& s) {
  putchar('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

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
           c.name.c_str(), num(f, "size"), num(f, "stride"), num(f, "per_slab"), num(f, "order"),
           num(f, "magazine"), num(f, "debug") ? "on" : "off");

    unsigned long long hits = num(f, "cpu_alloc_hits") + num(f, "cpu_free_hits");
    unsigned long long misses = num(f, "cpu_alloc_misses") + num(f, "cpu_free_misses");
    std::string rate = hits + misses ? format("%.1f%%", 100.0 * hits / (hits + misses)) : "-";
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
             num(r, "to"), word(r, "reason"), num(r, "ops"), num(r, "misses"), num(r, "contended"));
  }
}

int write_ctl(const char* command) {
  File file = file_of("EXO_SLAB_CTL", "/sys/kernel/debug/exofusion/slab_ctl");
  int fd = open(file.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail_open("write", file, errno);
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
    if (!read_slabinfo(file_of("EXO_SLABINFO", "/sys/kernel/debug/exofusion/slabinfo"), &info))
      return kExitFailure;
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
