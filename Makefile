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

.PHONY: all build run test bench lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/etcdchaos

run: build
	./$(BIN) run --scenario $(SCENARIO) --duration $(DURATION) --members $(MEMBERS) --out $(OUT)

test: lint
	$(GO) test -count=1 -timeout 30m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

clean:
	rm -rf bin runs
