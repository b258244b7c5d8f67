// SPDX-License-Identifier: GPL-2.0
// The subcommands, each defined beside its implementation; main.cpp lists
// them in one table.
#ifndef FUSIONCTL_COMMANDS_H
#define FUSIONCTL_COMMANDS_H

#include "tools/fusionctl/cli.h"

namespace fusionctl {

extern const Command kCreate;   // admin.cpp
extern const Command kDestroy;  // admin.cpp
extern const Command kList;     // admin.cpp
extern const Command kStat;     // admin.cpp
extern const Command kSend;     // messages.cpp
extern const Command kRecv;     // messages.cpp
extern const Command kBench;    // bench.cpp
extern const Command kSlab;     // slab.cpp
extern const Command kNic;      // nic.cpp
extern const Command kTop;      // top.cpp

}  // namespace fusionctl

#endif  // FUSIONCTL_COMMANDS_H
