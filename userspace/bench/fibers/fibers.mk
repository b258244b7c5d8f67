# Rules for the fibers benchmark (included by the top-level Makefile, which
# defines CXX, BASE_CXXFLAGS, LDLIBS and the rules of libexofiber.a and
# libexofusion.a). See userspace/bench/fibers/README.md.
#
# fiberbench: libexofiber, boost.context's fcontext, boost.fiber, ucontext
# and threads in one binary; boost_fiber.cpp alone is compiled with
# exceptions (boost.fiber throws). fiberbench-go: the Go 1.19 peer, built
# offline (no dependency) with its caches under build/go/.

FIBERBENCH_DIR := userspace/bench/fibers
FIBERBENCH_OBJ := build/fiberbench/obj
FIBERBENCH_CXXFLAGS := $(BASE_CXXFLAGS) -O2
FIBERBENCH_BINS := build/bin/fiberbench build/bin/fiberbench-go
FIBERBENCH_OBJS := $(FIBERBENCH_OBJ)/fiberbench.o $(FIBERBENCH_OBJ)/common.o \
	$(FIBERBENCH_OBJ)/boost_fiber.o

$(FIBERBENCH_OBJ)/%.o: $(FIBERBENCH_DIR)/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(FIBERBENCH_CXXFLAGS) $(FIBERBENCH_FLAGS_$*) -c -o $@ $<
FIBERBENCH_FLAGS_boost_fiber := -fexceptions

build/bin/fiberbench: $(FIBERBENCH_OBJS) build/lib/libexofiber.a build/lib/libexofusion.a
	@mkdir -p $(@D)
	$(CXX) -pthread -o $@ $^ -lboost_fiber -lboost_context $(LDLIBS)

build/bin/fiberbench-go: $(FIBERBENCH_DIR)/go/main.go $(FIBERBENCH_DIR)/go/go.mod
	@mkdir -p $(@D) build/go/cache build/go/path
	cd $(FIBERBENCH_DIR)/go && GOCACHE=$(CURDIR)/build/go/cache GOPATH=$(CURDIR)/build/go/path \
		GOFLAGS= GOPROXY=off GO111MODULE=on go build -o $(CURDIR)/$@ .

.PHONY: fiberbench
fiberbench: $(FIBERBENCH_BINS)

-include $(shell find $(FIBERBENCH_OBJ) -name '*.d' 2>/dev/null)
