# appstack's two everyday commands: `make preview` (offline preview of the staging stack) and `make test`.
# The linters are pinned in tools/go.mod and built into .tools/bin on first use.
GO_FILES = $(shell git ls-files '*.go')
TOOLS = .tools/bin
SHELLCHECK = $(shell command -v shellcheck)

.PHONY: preview test fmt-check vet lint unit engine bench

preview:
	go run ./cmd/preview -stack $(or $(STACK),staging)

test: fmt-check vet lint unit engine

fmt-check:
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...
	go vet -tags engine ./internal/lifecycle
	cd app && go vet ./...

lint: $(TOOLS)/actionlint $(TOOLS)/golangci-lint
	$(TOOLS)/actionlint -shellcheck=$(SHELLCHECK)
	$(TOOLS)/golangci-lint run --build-tags engine ./...

unit:
	go test ./...
	cd app && go test ./...

# The engine-level test: the real Pulumi CLI and Go language host (.tools/pulumi/bin or $APPSTACK_PULUMI_ROOT/bin,
# built by .ci/run), a file backend, stand-in providers and a KMS stand-in (see internal/lifecycle).
engine:
	go test -tags engine -count=1 ./internal/lifecycle

# Build, test and preview speed against their budgets; rewrites the results in docs/performance.md.
bench:
	go run ./cmd/bench -doc docs/performance.md

$(TOOLS)/actionlint: tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ github.com/rhysd/actionlint/cmd/actionlint

$(TOOLS)/golangci-lint: tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
