# Rules for the hosted slab benchmark (included by the top-level Makefile,
# which defines CXX, BASE_CXXFLAGS and SLAB_SRCS).
#
# One binary per peer allocator, each linked with that allocator in place
# of glibc's malloc; slabbench-glibc also runs the exofusion slab core,
# hosted, compiled here into an object directory of its own.

SLABBENCH_PEERS := glibc jemalloc tcmalloc mimalloc
SLABBENCH_BINS := $(patsubst %,build/bin/slabbench-%,$(SLABBENCH_PEERS))
SLABBENCH_OBJ := build/slabbench/obj
SLABBENCH_CXXFLAGS := $(BASE_CXXFLAGS) -O2
SLABBENCH_CORE_OBJS := $(patsubst %.cpp,$(SLABBENCH_OBJ)/core/%.o,$(SLAB_SRCS))

SLABBENCH_LIBS_glibc :=
SLABBENCH_LIBS_jemalloc := -ljemalloc
SLABBENCH_LIBS_tcmalloc := -ltcmalloc_minimal
SLABBENCH_LIBS_mimalloc := -lmimalloc
SLABBENCH_EXO_glibc := 1

$(SLABBENCH_OBJ)/core/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(SLABBENCH_CXXFLAGS) -c -o $@ $<

# $(1): the peer allocator.
define slabbench_peer
$(SLABBENCH_OBJ)/$(1)/slabbench.o: userspace/bench/slab/slabbench.cpp
	@mkdir -p $$(@D)
	$$(CXX) $$(SLABBENCH_CXXFLAGS) -DSLABBENCH_PEER=$(1) \
		-DSLABBENCH_WITH_EXO=$(if $(SLABBENCH_EXO_$(1)),1,0) -c -o $$@ $$<
build/bin/slabbench-$(1): $(SLABBENCH_OBJ)/$(1)/slabbench.o \
		$(if $(SLABBENCH_EXO_$(1)),$$(SLABBENCH_CORE_OBJS))
	@mkdir -p $$(@D)
	$$(CXX) -pthread -o $$@ $$^ -Wl,--no-as-needed $(SLABBENCH_LIBS_$(1))
endef
$(foreach peer,$(SLABBENCH_PEERS),$(eval $(call slabbench_peer,$(peer))))

.PHONY: slabbench
slabbench: $(SLABBENCH_BINS)

-include $(shell find $(SLABBENCH_OBJ) -name '*.d' 2>/dev/null)
