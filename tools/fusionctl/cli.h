// SPDX-License-Identifier: GPL-2.0
// fusionctl's command line: how a subcommand describes itself, the one
// option parser all subcommands share, and how errors are reported.
//
// Every subcommand reads all its options before it touches a ring, so
// that a usage error (exit 2) never leaves work half done.
#ifndef FUSIONCTL_CLI_H
#define FUSIONCTL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "userspace/include/exofusion/exofusion.h"

namespace fusionctl {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the command could not be carried out
constexpr int kExitUsage = 2;    // the command line was wrong

struct Option {
  const char* name;   // "--capacity"
  const char* value;  // placeholder in the help ("N"); nullptr for a flag
  const char* help;
};

class Args;

struct Command {
  const char* name;
  const char* operands;  // for the usage line: "NAME MESSAGE|-"
  const char* summary;   // one line in 'fusionctl --help'
  const char* details;   // the body of 'fusionctl NAME --help'
  std::vector<Option> options;
  size_t min_operands;
  size_t max_operands;
  int (*run)(const Args& args);
};

// A parsed command line. Options may come before, between or after the
// operands, as "--opt VALUE" or "--opt=VALUE"; "--" ends the options and a
// lone "-" is an operand. The typed getters exit with status 2 when a
// value is malformed.
class Args {
 public:
  // Exits: 0 after printing the help for --help, 2 on a malformed line.
  static Args parse(const Command& command, int argc, char** argv);

  size_t operand_count() const { return operands_.size(); }
  const char* operand(size_t i) const { return operands_[i].c_str(); }

  bool flag(const char* name) const;
  bool given(const char* name) const;
  const char* text(const char* name, const char* fallback) const;
  // Decimal, within [min, max].
  uint64_t number(const char* name, uint64_t fallback, uint64_t min, uint64_t max) const;
  uint32_t u32(const char* name, uint32_t fallback) const;
  // Seconds as decimal digits with an optional fraction ("2", "0.5"),
  // within [min, max].
  double seconds(const char* name, double fallback, double min, double max) const;
  // Octal digits only, as chmod takes them.
  uint32_t octal(const char* name, uint32_t fallback) const;

  [[noreturn]] void usage_error(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

 private:
  explicit Args(const Command& command) : command_(&command) {}
  const Option& spec(const char* name) const;
  const std::string* value(const char* name) const;

  const Command* command_;
  std::map<std::string, std::string> values_;  // given options (flags map to "")
  std::vector<std::string> operands_;
};

void print_help(const Command& command);

// Decimal digits only (no sign, space or base prefix), within uint64_t.
bool parse_decimal(const char* s, uint64_t* out);

// Runtime failures: print "fusionctl: <what>: <why>" and return
// kExitFailure. <what> starts with the subcommand's name.
int fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// For a library call that returned |err|: why is exo_last_error(), except
// for the codes the library returns without setting it (a non-blocking
// call that would block, a timed-out or interrupted wait).
int fail_lib(int err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// The option every command that opens a ring by name takes.
extern const Option kOwnerOption;
// The uid that --owner names (a user name or a decimal uid), or -1 when
// it is not given; exits with status 2 on an unknown user.
int64_t owner_option(const Args& args);

// Opens the device ring NAME for |command|, only if uid |owner| created it
// when |owner| >= 0; on failure reports it (saying so when the module is
// not loaded at all) and returns nullptr.
exo_ring* open_ring(const char* command, const char* name, int64_t owner = -1);

}  // namespace fusionctl

#endif  // FUSIONCTL_CLI_H
