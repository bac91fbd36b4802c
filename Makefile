# etcdchaos: chaos and linearizability testing for etcd locks and elections.

GO       ?= go
BIN      := bin/etcdchaos
PKGS     := ./...
# Default scenario for `make run`: mixed lock and election workloads with faults.
SCENARIO ?= mixed
DURATION ?= 30s
MEMBERS  ?= 3
OUT      ?= runs/latest
BENCHTIME ?= 5x
# Seeds per scenario for `make soak`.
K        ?= 3
# Length of each soak run and where the soak's run directories go.
SOAK_DURATION ?= 20s
SOAK_OUT      ?= runs/soak
# How the soak's members run: etcd processes of the pinned release, so that
# pauses and disk stalls take effect (embedded members have neither).
SOAK_MODE     ?= process

.PHONY: all build run test bench lint clean soak

all: build

build:
	$(GO) build -o $(BIN) ./cmd/etcdchaos

run: build
	./$(BIN) run --scenario $(SCENARIO) --duration $(DURATION) --members $(MEMBERS) --out $(OUT)

# Every scenario times K seeds on unmodified etcd: fails on any violation
# (unsafe-without-fencing, etcd's documented hazard, does not fail it).
soak: build etcd
	./$(BIN) soak --seeds $(K) --duration $(SOAK_DURATION) --members $(MEMBERS) --mode $(SOAK_MODE) --out $(SOAK_OUT)

test: lint etcd
	$(GO) test -count=1 -timeout 30m $(PKGS)

# Benchmarks, also written to bench/results.txt (summarised in the README).
# Every iteration of every benchmark is a measurable amount of work (a batch
# of recorded events, a whole history read or checked, a cluster started, a
# timed workload, a chaos run), so BENCHTIME=5x is five such samples; it is
# also the number of seeds BenchmarkMutantDetection takes its median over.
# The zoo's releases are built first: BenchmarkKnownIssues runs the server
# bugs of older releases in etcd processes of those releases.
bench: etcd zoo-etcd
	@mkdir -p bench
	bash -o pipefail -c '$(GO) test -run "^$$" -bench . -benchtime $(BENCHTIME) -timeout 180m $(PKGS) | tee bench/results.txt'

# The etcd server binary for --mode process and its tests. (`go install
# go.etcd.io/etcd/server/v3@v3.7.3` refuses that module because its go.mod
# has replace directives, so it is built from this module's pinned version;
# go.mod lists it as a tool so that `go mod tidy` keeps what it needs.)
#
# `make etcd ETCD_VERSION=v3.5.12` builds any other release the Go module
# proxy serves (v3.5.0 and later; v3.4 does not build) as bin/etcd-v3.5.12,
# for `run --mode process --etcd-bin` and `zoo --versions`. It is built in a
# scratch module outside the tree that imports that release's etcdmain, so
# the release's own dependency versions are used and nothing but the binary
# is left behind.
ETCD_PINNED  := $(shell awk '$$1 == "go.etcd.io/etcd/server/v3" { print $$2; exit }' go.mod)
ETCD_VERSION ?= $(ETCD_PINNED)
override ETCD_VERSION := v$(patsubst v%,%,$(ETCD_VERSION))
ETCD_BIN := bin/etcd
.PHONY: etcd
ifeq ($(ETCD_VERSION),$(ETCD_PINNED))
etcd: $(ETCD_BIN)
else
etcd: bin/etcd-$(ETCD_VERSION)
endif

$(ETCD_BIN): go.mod go.sum
	$(GO) build -o $(ETCD_BIN) go.etcd.io/etcd/server/v3

# Every release of the zoo's default list (`etcdchaos zoo --list-releases`):
# the pinned one is bin/etcd, each other bin/etcd-vX.Y.Z.
.PHONY: zoo-etcd
zoo-etcd: build etcd
	@set -e; for v in $$($(BIN) zoo --list-releases); do \
		if [ "$$v" != "$(ETCD_PINNED)" ]; then $(MAKE) --no-print-directory etcd ETCD_VERSION=$$v; fi; \
	done

bin/etcd-v%:
	@mkdir -p bin
	@set -e; out="$$(pwd)/$@"; scratch="$$(mktemp -d)"; trap 'rm -rf "$$scratch"' EXIT; \
	cd "$$scratch"; export GOTOOLCHAIN=local; \
	printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go; \
	$(GO) mod init etcdchaos.local/etcd-build 2>/dev/null; \
	$(GO) get go.etcd.io/etcd/server/v3@v$* || \
		{ echo "etcd v$*: the Go module proxy does not serve it as go.etcd.io/etcd/server/v3 (v3.5.0 and later are)" >&2; exit 1; }; \
	$(GO) mod tidy; \
	$(GO) build -o "$$out.tmp" .; mv "$$out.tmp" "$$out"; \
	echo "built $@ (etcd v$*)"

# `make etcd-patched ETCD_PATCH=harness/etcdpatches/v3.7.3-confirm-leadership.patch`
# builds a release (ETCD_VERSION, by default the one the patch is named
# after) with a fix applied to its server module, as
# bin/etcd-v3.7.3-confirm-leadership: the same seeds run against it show
# whether a finding is etcd's. The patch is relative to the server module.
ETCD_PATCH ?=
.PHONY: etcd-patched
etcd-patched:
	@test -n "$(ETCD_PATCH)" || { echo "etcd-patched: set ETCD_PATCH to a patch under harness/etcdpatches" >&2; exit 2; }
	@test -f "$(ETCD_PATCH)" || { echo "etcd-patched: ETCD_PATCH $(ETCD_PATCH): no such file" >&2; exit 2; }
	@mkdir -p bin
	@set -e; name="$$(basename "$(ETCD_PATCH)" .patch)"; version="$${name%%-*}"; \
	out="$$(pwd)/bin/etcd-$$name"; patch="$$(cd "$$(dirname "$(ETCD_PATCH)")" && pwd)/$$(basename "$(ETCD_PATCH)")"; \
	scratch="$$(mktemp -d)"; trap 'rm -rf "$$scratch"' EXIT; \
	cd "$$scratch"; export GOTOOLCHAIN=local; \
	printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go; \
	$(GO) mod init etcdchaos.local/etcd-build 2>/dev/null; \
	$(GO) get go.etcd.io/etcd/server/v3@$$version; \
	cp -R "$$($(GO) list -m -f '{{.Dir}}' go.etcd.io/etcd/server/v3)" server; chmod -R u+w server; \
	(cd server && git apply "$$patch") || { echo "etcd-patched: $(ETCD_PATCH) does not apply to etcd $$version" >&2; exit 1; }; \
	$(GO) mod edit -replace go.etcd.io/etcd/server/v3=./server; \
	$(GO) mod tidy; \
	$(GO) build -o "$$out.tmp" .; mv "$$out.tmp" "$$out"; \
	echo "built bin/etcd-$$name (etcd $$version with $(ETCD_PATCH))"

lint:
	$(GO) vet $(PKGS)
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

clean:
	rm -rf bin runs
