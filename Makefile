# The one entry point for building, running and testing strmlocal.
# On a fresh machine with Go, `make run` and `make test` do all set-up.

GO      ?= go
BIN     := bin/strmlocal
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
# buf is pinned here and run through `go run`; its plugins come from go.mod.
BUF     := $(GO) run github.com/bufbuild/buf/cmd/buf@v1.75.0
# staticcheck is pinned the same way.
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
ARGS    ?=

.PHONY: help build run test test-deps bench soak lint generate check-generate

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/strmlocal
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/strmlocal

run: build ## Build and start the sandbox on 127.0.0.1:50051 (ARGS='--ephemeral' etc.)
	./$(BIN) serve $(ARGS)

# The second line is the scale-out half of the conformance suite
# (docs/scale-out.md): rpc's behaviour tests again, every sandbox over
# PostgreSQL and a Kafka-protocol broker. Skipped there are the tests of
# what only the embedded mode has: a data dir on disk (crash, restart,
# master.key, plaintext-on-disk, full-disk, server-info).
EMBEDDED_ONLY = TestPipelineCrashSafety|TestJobCrashSafety|TestMasterKeyRefusals|TestKeysetThatFailsToDecrypt|TestNoPlaintextOnDisk|TestRegistrySurvivesRestart|TestStreamsSurviveRestart|TestServerInfo|TestStorageFullRecovers
test: test-deps ## Run every test with the race detector
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestCachedBytesMatchHeap$$' ./keys
	STRMLOCAL_CONFORMANCE=scale-out $(GO) test -race -count=1 -skip '^($(EMBEDDED_ONLY))$$' ./rpc

# The compat tests drive the real curl (HTTP/1.1 and --http2-prior-knowledge).
# Packages are installed only when running as root (CI); make never calls
# sudo: elsewhere it says what to install.
# The S3 exporter's tests run the real Versity S3 Gateway (internal/s3test):
# its pinned version is built into $(go env GOPATH)/bin, unless it is there.
# The Kafka exporter's tests read topics back with Debian's kcat
# (internal/kafkatest), a client independent of the one that produces.
# The Node driver flow (rpc's TestNodeDriverFlow) runs node and npm ci on
# testdata/nodedriver's pinned packages.
# The PostgreSQL state's tests (internal/store/pgkv) run Debian's postgresql
# server binaries on a cluster of their own, in a temporary directory on a
# free loopback port (internal/pgtest). The package's own cluster service
# (5432) is neither needed nor used: whether the install starts it or not
# (containers have no systemd, and Docker's policy-rc.d denies starts) does
# not matter.
test-deps:
	@command -v curl >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing curl for the compat tests"; \
			apt-get update -qq && apt-get install -y -qq curl; \
		else echo "the compat tests need curl: install it (e.g. apt-get install curl) and run make test again" >&2; exit 1; fi; }
	@command -v kcat >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing kcat for the Kafka exporter's tests"; \
			apt-get update -qq && apt-get install -y -qq kcat; \
		else echo "the Kafka exporter's tests need kcat: install it (e.g. apt-get install kcat) and run make test again" >&2; exit 1; fi; }
	@{ command -v node && command -v npm; } >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing nodejs and npm for the Node driver flow (rpc, testdata/nodedriver)"; \
			apt-get update -qq && apt-get install -y -qq nodejs npm; \
		else echo "the Node driver flow needs node and npm: install them (e.g. apt-get install nodejs npm) and run make test again" >&2; exit 1; fi; }
	@{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing postgresql for the PostgreSQL state's tests (internal/pgtest)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
		else echo "the PostgreSQL state's tests need PostgreSQL's server: install it (e.g. apt-get install postgresql) and run make test again" >&2; exit 1; fi; }
	@command -v jq >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing jq for the README tour's test"; \
			apt-get update -qq && apt-get install -y -qq jq; \
		else echo "the README tour's test needs jq: install it (e.g. apt-get install jq) and run make test again" >&2; exit 1; fi; }
	@bin="$$($(GO) env GOPATH | cut -d: -f1)/bin"; \
	$(GO) version -m "$$bin/grpcurl" 2>/dev/null | grep -q "mod[[:space:]]*github.com/fullstorydev/grpcurl[[:space:]]*v1.9.4[[:space:]]" || { \
		echo "installing grpcurl v1.9.4 in $$bin for the README tour's test"; \
		GOBIN="$$bin" $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4; }
	@bin="$$($(GO) env GOPATH | cut -d: -f1)/bin"; \
	$(GO) version -m "$$bin/versitygw" 2>/dev/null | grep -q "mod[[:space:]]*github.com/versity/versitygw[[:space:]]*v1.8.0[[:space:]]" || { \
		echo "installing versitygw v1.8.0 in $$bin for the S3 exporter's tests"; \
		GOBIN="$$bin" $(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0; }

bench: ## Run the benchmarks (real disk, fsync on)
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 1 ./...

# Not part of `make test`: the soak test is behind the soak build tag.
# SOAK_DURATION (default 10m), SOAK_KILL_EVERY, SOAK_MAX_RSS_MIB and
# SOAK_SEED are read by the test (docs/soak.md).
soak: ## Mixed load against the real binary, SIGKILLed every ~20s (SOAK_DURATION=2m make soak)
	$(GO) test -tags soak -count=1 -timeout 0 -v ./internal/soak

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

generate: ## Regenerate the API code from proto/
	$(BUF) lint
	$(BUF) generate

check-generate: generate ## Fail if the committed generated code is stale
	@git diff --exit-code -- api || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api)" || { echo "untracked generated files: run make generate and commit"; git status --porcelain -- api; exit 1; }
