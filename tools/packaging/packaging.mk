# SPDX-License-Identifier: GPL-2.0
# Installing exofusion on a real machine (included by the Makefile):
#   make install [PREFIX=/usr/local] [DESTDIR=...] [KVER=<release>]
#     the module (for KVER: by default the kernel `make module` built first),
#     libexofusion (.so with soname, .a), its headers and exofusion.pc,
#     fusionctl, the udev rule of /dev/exofusion/control and a modprobe.d
#     example; install-module and install-userspace do either half.
#   make uninstall (same variables) removes exactly what install put.
#   make dkms-install [DKMS_KERNELS="<release> ..."] registers the sources
#     with DKMS, which rebuilds the module for every kernel installed later;
#     make dkms-remove undoes it.

VERSION := $(shell cat VERSION)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
SONAME := libexofusion.so.$(SOVERSION)
LIB_SO := build/lib/libexofusion.so.$(VERSION)
PACKAGING := tools/packaging

# The shared library: the static library's sources again, position-independent,
# exporting only the exo_* C API (libexofusion.map). It needs the C++ runtime
# itself, so a C program links it with `cc` alone.
build/pic/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(BASE_CXXFLAGS) -O2 -fPIC -fno-semantic-interposition -c -o $@ $<
-include $(shell find build/pic/obj -name '*.d' 2>/dev/null)

$(LIB_SO): $(patsubst %.cpp,build/pic/obj/%.o,$(LIB_SRCS)) $(PACKAGING)/libexofusion.map
	@mkdir -p $(@D)
	$(CXX) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(PACKAGING)/libexofusion.map \
		-Wl,-z,defs -Wl,-z,relro -Wl,-z,now -o $@ $(filter %.o,$^) -pthread
	ln -sfn $(@F) $(@D)/$(SONAME)
	ln -sfn $(SONAME) $(@D)/libexofusion.so

userspace: $(LIB_SO)

# Where install puts things. Packagers set PREFIX=/usr and DESTDIR.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DOCDIR ?= $(PREFIX)/share/doc/exofusion
UDEVRULESDIR ?= /etc/udev/rules.d
KVER ?= $(shell $(call kernel_release,$(DEFAULT_KDIR)))
MODULEDIR ?= /lib/modules/$(KVER)/extra
INSTALLED_KO = build/module/$(KVER)/exofusion.ko

# depmod, ldconfig and the udev rule's group touch the live system only when
# installing into it (packagers create the group in their postinst).
live_system = $(if $(DESTDIR),,1)

.PHONY: install install-module install-userspace uninstall dkms-install dkms-remove

install: install-module install-userspace

# Every path is quoted: a DESTDIR or PREFIX with a space in it must not
# split into two words (for `rm`, one of them another directory).
install-module:
	@test -f $(INSTALLED_KO) || { echo "install: no module built for kernel '$(KVER)'" \
		"($(INSTALLED_KO)); run 'make module KDIR=/lib/modules/$(KVER)/build' first" >&2; exit 1; }
	install -D -m 644 $(INSTALLED_KO) '$(DESTDIR)$(MODULEDIR)/exofusion.ko'
	$(depmod)

# A DESTDIR gets a module index of its own (for `modprobe -d DESTDIR`),
# which uninstall brings up to date as install does.
depmod = depmod $(if $(DESTDIR),-b '$(DESTDIR)') $(KVER)

# Installed as LIBDIR's and INCLUDEDIR's own names: uninstall removes these
# files, never a directory install did not make.
HEADERS := exofusion/exofusion.h exofusion/exofusion.hpp exofusion/uapi/exofusion.h
LIB_FILES := libexofusion.so.$(VERSION) $(SONAME) libexofusion.so libexofusion.a

install-userspace: $(LIB_SO) build/lib/libexofusion.a build/bin/fusionctl
	install -D -m 755 $(LIB_SO) '$(DESTDIR)$(LIBDIR)/libexofusion.so.$(VERSION)'
	ln -sfn libexofusion.so.$(VERSION) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sfn $(SONAME) '$(DESTDIR)$(LIBDIR)/libexofusion.so'
	install -D -m 644 build/lib/libexofusion.a '$(DESTDIR)$(LIBDIR)/libexofusion.a'
	install -D -m 644 userspace/include/exofusion/exofusion.h \
		'$(DESTDIR)$(INCLUDEDIR)/exofusion/exofusion.h'
	install -D -m 644 userspace/include/exofusion/exofusion.hpp \
		'$(DESTDIR)$(INCLUDEDIR)/exofusion/exofusion.hpp'
	install -D -m 644 uapi/exofusion.h '$(DESTDIR)$(INCLUDEDIR)/exofusion/uapi/exofusion.h'
	@mkdir -p '$(DESTDIR)$(PKGCONFIGDIR)'
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		$(PACKAGING)/exofusion.pc.in >'$(DESTDIR)$(PKGCONFIGDIR)/exofusion.pc'
	install -D -m 755 build/bin/fusionctl '$(DESTDIR)$(BINDIR)/fusionctl'
	install -D -m 644 $(PACKAGING)/60-exofusion.rules '$(DESTDIR)$(UDEVRULESDIR)/60-exofusion.rules'
	$(if $(live_system),getent group exofusion >/dev/null || groupadd --system exofusion)
	install -D -m 644 $(PACKAGING)/exofusion.conf '$(DESTDIR)$(DOCDIR)/modprobe.d/exofusion.conf'
	$(if $(live_system),-ldconfig)

# The files install put, then the directories it made that are left empty
# (DOCDIR may be a shared one: a packager's, or /usr/share/doc itself).
uninstall:
	rm -f '$(DESTDIR)$(MODULEDIR)/exofusion.ko'
	if [ -d '$(DESTDIR)/lib/modules/$(KVER)' ]; then $(depmod); fi
	rm -f $(foreach f,$(LIB_FILES),'$(DESTDIR)$(LIBDIR)/$(f)') \
		$(foreach f,$(HEADERS),'$(DESTDIR)$(INCLUDEDIR)/$(f)') \
		'$(DESTDIR)$(PKGCONFIGDIR)/exofusion.pc' '$(DESTDIR)$(BINDIR)/fusionctl' \
		'$(DESTDIR)$(UDEVRULESDIR)/60-exofusion.rules' \
		'$(DESTDIR)$(DOCDIR)/modprobe.d/exofusion.conf'
	rmdir '$(DESTDIR)$(INCLUDEDIR)/exofusion/uapi' '$(DESTDIR)$(INCLUDEDIR)/exofusion' \
		'$(DESTDIR)$(DOCDIR)/modprobe.d' '$(DESTDIR)$(DOCDIR)' 2>/dev/null || true
	$(if $(live_system),-ldconfig)

# DKMS builds from a copy of the module's sources in /usr/src/exofusion-<version>.
DKMS_SRC := /usr/src/exofusion-$(VERSION)
DKMS_KERNELS ?= $(shell uname -r)
dkms_check = @test "$$(id -u)" = 0 || { echo "$@: needs root (sudo make $@)" >&2; exit 1; }; \
	command -v dkms >/dev/null || { echo "$@: dkms is not installed (apt-get install dkms)" >&2; \
	exit 1; }

# Idempotent: a version already registered is removed first.
dkms-install:
	$(dkms_check)
	@if [ -n "$$(dkms status exofusion/$(VERSION))" ]; then \
		dkms remove exofusion/$(VERSION) --all; fi
	rm -rf $(DKMS_SRC)
	@for f in $(MODULE_SRCS); do install -D -m 644 $$f $(DKMS_SRC)/$$f || exit 1; done
	sed 's|@VERSION@|$(VERSION)|' $(PACKAGING)/dkms.conf.in >$(DKMS_SRC)/dkms.conf
	dkms add exofusion/$(VERSION)
	@for k in $(DKMS_KERNELS); do dkms install exofusion/$(VERSION) -k $$k || exit 1; done
	dkms status exofusion

dkms-remove:
	$(dkms_check)
	@if [ -n "$$(dkms status exofusion/$(VERSION))" ]; then \
		dkms remove exofusion/$(VERSION) --all; fi
	rm -rf $(DKMS_SRC)
