# cairn: build, demo, tests.
#
#   make demo    build cairn, back up a sample source into ./.demo/repo, list
#                it, restore it, and leave it mounted at ./.demo/mnt
#   make test    install what the tests need, then vet, layering, unit,
#                integration, CLI-script and fuzz-seed tests
#   make bench   compare cairn with restic and borg (bench/README.md)
#   make bench-mount  reading through cairn, restic and borg mounts (after make bench)
#   make bench-browse snapshots, listing, find over 1,000 snapshots (bench/browse.sh)
#   make fuzz    run every fuzz target for a while (FUZZTIME, default 30s)

GO        ?= go
BIN       := bin/cairn
DEMO      := $(CURDIR)/.demo
GOTESTFLAGS ?= -count=1 -timeout 30m
# the commit `cairn version` names (empty outside a git checkout)
COMMIT    := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)

.PHONY: all build demo test deps vet unit fuzz bench bench-mount bench-browse clean

all: build

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN) ./cmd/cairn

# Debian packages the tests drive for real: rsync, ACL and xattr tools,
# FUSE, exFAT (a case-insensitive restore target, as on a USB stick); and
# the S3 server. Installed once; later runs only check.
# gcc builds the libzstd that cairn compresses with (cgo); without it Go
# builds the pure-Go compressor, which is slower. curl calls the daemon's
# socket as other users; tzdata gives the daylight-saving schedule tests
# their zones.
TEST_PACKAGES := rsync acl attr fuse3 util-linux tmux gcc libarchive-tools exfatprogs exfat-fuse curl tzdata
deps:
	@missing=""; for p in $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# The S3 server the tests talk to (versitygw, pinned), built once into .tools/.
	@sh backends/s3/s3test/install.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./repo/pack

test: deps vet
	$(GO) test $(GOTESTFLAGS) ./...
	@# The pure-Go compressor of builds without cgo.
	CGO_ENABLED=0 $(GO) test $(GOTESTFLAGS) ./repo/pack

fuzz:
	bash fuzz/run.sh

bench: build
	bash bench/run.sh

bench-mount: build
	bash bench/mount.sh

bench-browse: build
	bash bench/browse.sh

demo: build
	@-umount $(DEMO)/mnt 2>/dev/null || umount -l $(DEMO)/mnt 2>/dev/null; true
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/source/docs $(DEMO)/source/code $(DEMO)/mnt
	@head -c 32 /dev/urandom | base64 > $(DEMO)/password && chmod 600 $(DEMO)/password
	@cp -r cmd repo index backends $(DEMO)/source/code/ && cp README.md $(DEMO)/source/docs/
	@ln -s docs/README.md $(DEMO)/source/readme-link
	@ln $(DEMO)/source/docs/README.md $(DEMO)/source/docs/README.hardlink
	@truncate -s 64M $(DEMO)/source/sparse.img && echo data | dd of=$(DEMO)/source/sparse.img bs=1 seek=1M conv=notrunc status=none
	@mkfifo $(DEMO)/source/fifo
	@mkdir $(DEMO)/source/empty-dir
	@export CAIRN_REPOSITORY=$(DEMO)/repo CAIRN_PASSWORD_FILE=$(DEMO)/password CAIRN_CACHE_DIR=$(DEMO)/cache; \
	set -e; \
	echo "== cairn init"; $(BIN) init; \
	echo "== cairn ingest $(DEMO)/source"; $(BIN) ingest $(DEMO)/source --host demo --source sample --tag demo; \
	echo "== cairn ingest again (no file changed, so none is read again)"; $(BIN) ingest $(DEMO)/source --host demo --source sample; \
	echo "== cairn snapshots"; $(BIN) snapshots; \
	echo "== cairn ls -l latest:$(DEMO)/source --no-recurse"; $(BIN) ls -l latest:$(DEMO)/source --no-recurse; \
	echo "== cairn restore latest:$(DEMO)/source --target $(DEMO)/restored"; $(BIN) restore latest:$(DEMO)/source --target $(DEMO)/restored; \
	echo "== diff -r source restored"; diff -r -x fifo $(DEMO)/source $(DEMO)/restored && echo "restored tree is identical to the source"; \
	if command -v rsync >/dev/null; then out=$$(rsync -aHAXn -i --numeric-ids --delete $(DEMO)/source/ $(DEMO)/restored/); \
	  if [ -z "$$out" ]; then echo "rsync -aHAX finds no difference in any attribute"; else echo "$$out"; exit 1; fi; fi; \
	echo "== sparse file kept its holes: $$(du -k $(DEMO)/restored/sparse.img | cut -f1) KiB on disk for 64 MiB"; \
	echo "== cairn mount $(DEMO)/mnt (in the background; log in $(DEMO)/mount.log)"; \
	nohup $(BIN) mount $(DEMO)/mnt >$(DEMO)/mount.log 2>&1 & \
	for i in $$(seq 100); do mountpoint -q $(DEMO)/mnt && break; sleep 0.1; done; \
	mountpoint -q $(DEMO)/mnt || { cat $(DEMO)/mount.log; exit 1; }; \
	ls -l $(DEMO)/mnt $(DEMO)/mnt/latest/; \
	if command -v rsync >/dev/null; then out=$$(rsync -aHAXn -i --numeric-ids --delete $(DEMO)/source/ $(DEMO)/mnt/latest/); \
	  if [ -z "$$out" ]; then echo "rsync -aHAX finds no difference between the source and the mounted snapshot"; else echo "$$out"; exit 1; fi; fi; \
	echo "== mounted at $(DEMO)/mnt; unmount with: umount $(DEMO)/mnt"

clean:
	-umount $(DEMO)/mnt 2>/dev/null || umount -l $(DEMO)/mnt 2>/dev/null; true
	rm -rf bin $(DEMO)
