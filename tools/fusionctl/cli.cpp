// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace fusionctl {
namespace {

enum class Parse { kOk, kNotANumber, kTooLarge };

// Digits of |base| only: strtoull would take " +12", wrap "-1" and stop
// quietly at "12x".
Parse parse_unsigned(const char* s, unsigned base, uint64_t* out) {
  if (*s == '\0') return Parse::kNotANumber;
  uint64_t v = 0;
  for (; *s; ++s) {
    unsigned digit = static_cast<unsigned char>(*s) - '0';
    if (digit >= base) return Parse::kNotANumber;
    if (v > (UINT64_MAX - digit) / base) return Parse::kTooLarge;
    v = v * base + digit;
  }
  *out = v;
  return Parse::kOk;
}

void vreport(const char* fmt, va_list ap) {
  fputs("fusionctl: ", stderr);
  vfprintf(stderr, fmt, ap);
}

}  // namespace

bool parse_decimal(const char* s, uint64_t* out) {
  return parse_unsigned(s, 10, out) == Parse::kOk;
}

Args Args::parse(const Command& command, int argc, char** argv) {
  Args args(command);
  bool options_done = false;
  for (int i = 0; i < argc; ++i) {
    std::string word = argv[i];
    if (options_done || word == "-" || word[0] != '-') {
      args.operands_.push_back(word);
      continue;
    }
    if (word == "--") {
      options_done = true;
      continue;
    }
    if (word == "--help" || word == "-h") {
      print_help(command);
      exit(kExitOk);
    }
    size_t eq = word.find('=');
    std::string name = word.substr(0, eq);
    const Option* option = nullptr;
    for (const Option& o : command.options)
      if (name == o.name) option = &o;
    if (!option) args.usage_error("unknown option '%s'", name.c_str());
    if (args.values_.count(name)) args.usage_error("%s: given twice", name.c_str());
    std::string value;
    if (!option->value) {
      if (eq != std::string::npos) args.usage_error("%s takes no value", name.c_str());
    } else if (eq != std::string::npos) {
      value = word.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      args.usage_error("%s: missing value %s", name.c_str(), option->value);
    }
    args.values_[name] = value;
  }
  if (args.operands_.size() < command.min_operands)
    args.usage_error("missing operand: expected %s", command.operands);
  if (args.operands_.size() > command.max_operands)
    args.usage_error("unexpected operand '%s'", args.operands_[command.max_operands].c_str());
  return args;
}

// A getter naming an option its command does not declare is a bug in
// fusionctl, not a usage error.
const Option& Args::spec(const char* name) const {
  for (const Option& o : command_->options)
    if (!strcmp(o.name, name)) return o;
  fprintf(stderr, "fusionctl: internal error: %s has no option %s\n", command_->name, name);
  abort();
}

const std::string* Args::value(const char* name) const {
  spec(name);
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool Args::given(const char* name) const { return value(name) != nullptr; }

bool Args::flag(const char* name) const { return given(name); }

const char* Args::text(const char* name, const char* fallback) const {
  const std::string* v = value(name);
  return v ? v->c_str() : fallback;
}

uint64_t Args::number(const char* name, uint64_t fallback, uint64_t min, uint64_t max) const {
  const std::string* v = value(name);
  if (!v) return fallback;
  uint64_t n = 0;
  Parse p = parse_unsigned(v->c_str(), 10, &n);
  if (p == Parse::kNotANumber) usage_error("%s: '%s' is not a decimal number", name, v->c_str());
  if (p == Parse::kTooLarge || n < min || n > max)
    usage_error("%s: '%s' is out of range [%llu, %llu]", name, v->c_str(),
                static_cast<unsigned long long>(min), static_cast<unsigned long long>(max));
  return n;
}

uint32_t Args::u32(const char* name, uint32_t fallback) const {
  return static_cast<uint32_t>(number(name, fallback, 0, UINT32_MAX));
}

double Args::seconds(const char* name, double fallback, double min, double max) const {
  const std::string* v = value(name);
  if (!v) return fallback;
  // Digits, then optionally a point and digits: strtod alone would take
  // "1e3", "inf", " 2" and "0x10".
  size_t point = v->find('.');
  std::string whole = v->substr(0, point);
  std::string fraction = point == std::string::npos ? "0" : v->substr(point + 1);
  uint64_t ignored;
  if (parse_unsigned(whole.c_str(), 10, &ignored) == Parse::kNotANumber ||
      parse_unsigned(fraction.c_str(), 10, &ignored) == Parse::kNotANumber)
    usage_error("%s: '%s' is not a number of seconds", name, v->c_str());
  double s = strtod(v->c_str(), nullptr);
  if (s < min || s > max) usage_error("%s: '%s' is out of range [%g, %g]", name, v->c_str(), min, max);
  return s;
}

uint32_t Args::octal(const char* name, uint32_t fallback) const {
  const std::string* v = value(name);
  if (!v) return fallback;
  uint64_t n = 0;
  Parse p = parse_unsigned(v->c_str(), 8, &n);
  if (p == Parse::kNotANumber) usage_error("%s: '%s' is not an octal number", name, v->c_str());
  if (p == Parse::kTooLarge || n > UINT32_MAX)
    usage_error("%s: '%s' is too large", name, v->c_str());
  return static_cast<uint32_t>(n);
}

void Args::usage_error(const char* fmt, ...) const {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fusionctl: %s: ", command_->name);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'fusionctl %s --help'.\n", command_->name);
  exit(kExitUsage);
}

void print_help(const Command& command) {
  printf("usage: fusionctl %s%s%s [options]\n\n%s\n", command.name, *command.operands ? " " : "",
         command.operands, command.details);
  printf("\noptions:\n");
  std::vector<std::string> left;
  size_t width = strlen("--help");
  for (const Option& o : command.options) {
    left.push_back(std::string(o.name) + (o.value ? std::string(" ") + o.value : ""));
    if (left.back().size() > width) width = left.back().size();
  }
  for (size_t i = 0; i < left.size(); ++i)
    printf("  %-*s  %s\n", static_cast<int>(width), left[i].c_str(), command.options[i].help);
  printf("  %-*s  %s\n", static_cast<int>(width), "--help", "show this help and exit");
}

int fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return kExitFailure;
}

int fail_lib(int err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  bool silent = err == -EAGAIN || err == -ETIMEDOUT || err == -EINTR;
  fprintf(stderr, ": %s\n", silent ? strerror(-err) : exo_last_error());
  return kExitFailure;
}

const Option kOwnerOption = {
    "--owner", "USER", "refuse the ring unless USER (a name or a uid) created it"};

int64_t owner_option(const Args& args) {
  const char* owner = args.text("--owner", nullptr);
  if (!owner) return -1;
  uint64_t uid = 0;
  if (parse_decimal(owner, &uid)) {
    if (uid >= UINT32_MAX) args.usage_error("--owner: uid '%s' is out of range", owner);
    return static_cast<int64_t>(uid);
  }
  const passwd* pw = getpwnam(owner);
  if (!pw) args.usage_error("--owner: no user '%s'", owner);
  return pw->pw_uid;
}

exo_ring* open_ring(const char* command, const char* name, int64_t owner) {
  exo_ring* ring = nullptr;
  int err = owner >= 0 ? exo_ring_open_owned(name, static_cast<uid_t>(owner), &ring)
                       : exo_ring_open(name, &ring);
  if (err == 0) return ring;
  // The library only names the node it could not open; say why it is missing.
  if (err == -ENOENT && access("/dev/exofusion/control", F_OK) != 0)
    fail("%s: %s; the exofusion module is not loaded (no /dev/exofusion/control)", command,
         exo_last_error());
  else
    fail_lib(err, "%s", command);
  return nullptr;
}

}  // namespace fusionctl
