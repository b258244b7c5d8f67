// SPDX-License-Identifier: GPL-2.0
/* The module's tracepoints (module/shim/trace.h), instantiated once here. */
#define CREATE_TRACE_POINTS
#include "module/shim/trace.h"
