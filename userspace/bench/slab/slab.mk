# Rules for the hosted slab benchmark (included by the top-level Makefile).
SLABBENCH_BINS :=
