// SPDX-License-Identifier: GPL-2.0
// fusionctl: create, inspect and use exofusion rings from the shell.
// Every ring operation goes through libexofusion; this file only picks
// the subcommand.
#include <stdio.h>
#include <string.h>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"

namespace fusionctl {
namespace {

const Command* const kCommands[] = {&kCreate, &kDestroy, &kList,  &kStat,
                                    &kSend,   &kRecv,    &kBench, &kSlab, &kNic, &kTop};

void print_overview(FILE* out) {
  fprintf(out,
          "usage: fusionctl COMMAND [options] [operands]\n"
          "       fusionctl COMMAND --help\n\n"
          "Manages exofusion rings (/dev/exofusion/NAME), moves messages through them and\n"
          "shows the module's slab caches and NICs, or all of it at work (top).\n\n"
          "commands:\n");
  for (const Command* c : kCommands) fprintf(out, "  %-8s %s\n", c->name, c->summary);
  fprintf(out, "\nexit status: 0 success, 1 runtime failure, 2 usage error\n");
}

int run(int argc, char** argv) {
  if (argc < 2) {
    print_overview(stderr);
    return kExitUsage;
  }
  const char* name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
    print_overview(stdout);
    return kExitOk;
  }
  for (const Command* c : kCommands)
    if (!strcmp(name, c->name)) return c->run(Args::parse(*c, argc - 2, argv + 2));
  fprintf(stderr, "fusionctl: unknown command '%s'\nTry 'fusionctl --help'.\n", name);
  return kExitUsage;
}

}  // namespace
}  // namespace fusionctl

int main(int argc, char** argv) {
  int status = fusionctl::run(argc, argv);
  // Output that could not be written (a full disk, a closed pipe) is a failure.
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("fusionctl: standard output");
    return fusionctl::kExitFailure;
  }
  return status;
}
