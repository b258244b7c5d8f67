// SPDX-License-Identifier: GPL-2.0
/* placeholder: in-kernel slab benchmarks and self-tests come next */
#include "module/shim/shim.h"

void exo_slab_test_init(void)
{
}
