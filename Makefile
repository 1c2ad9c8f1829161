# bucketfs: build, install (with the mount.bucketfs helper), test.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
# mount(8) looks for mount.TYPE helpers in /sbin only.
SBINDIR ?= /sbin
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build install uninstall test

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bucketfs ./cmd/bucketfs

install: build
	install -D -m 0755 bucketfs $(DESTDIR)$(BINDIR)/bucketfs
	install -d $(DESTDIR)$(SBINDIR)
	ln -sf $(BINDIR)/bucketfs $(DESTDIR)$(SBINDIR)/mount.bucketfs

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bucketfs $(DESTDIR)$(SBINDIR)/mount.bucketfs

test:
	bash test/run.sh
