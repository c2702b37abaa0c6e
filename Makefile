# appstack's two everyday commands: `make preview` (offline preview of the staging stack) and `make test`.
# The linters are pinned in tools/go.mod and built into .tools/bin on first use.
GO_FILES = $(shell git ls-files '*.go')
TOOLS = .tools/bin
SHELLCHECK = $(shell command -v shellcheck)

.PHONY: preview test fmt-check vet lint unit engine bench e2e

preview:
	go run ./cmd/preview -stack $(or $(STACK),staging)

test: fmt-check vet lint unit engine

fmt-check:
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...
	go vet -tags engine ./internal/lifecycle ./internal/e2e/cloud
	cd app && go vet ./...

lint: $(TOOLS)/actionlint $(TOOLS)/golangci-lint
	$(TOOLS)/actionlint -shellcheck=$(SHELLCHECK)
	$(TOOLS)/golangci-lint run --build-tags engine ./...

unit:
	go test ./...
	cd app && go test ./...

# The engine-level tests: the real Pulumi CLI and Go language host (.tools/pulumi/bin or $APPSTACK_PULUMI_ROOT/bin,
# built by .ci/run), a file backend, stand-in providers and a KMS stand-in (see internal/lifecycle;
# internal/e2e/cloud runs the end-to-end suite's stack adapter there).
engine:
	go test -tags engine -count=1 ./internal/lifecycle ./internal/e2e/cloud

# Build, test and preview speed against their budgets; rewrites the results in docs/performance.md.
bench:
	go run ./cmd/bench -doc docs/performance.md

# The end-to-end test on a real AWS account (docs/e2e.md): about 40 minutes and a few cents. Without AWS
# credentials, a Pulumi backend, Docker or the Pulumi CLI it prints what is missing and exits 0.
# Flags go in E2E_FLAGS, such as: make e2e E2E_FLAGS="-region eu-west-1 -fail-with health".
e2e:
	go run ./cmd/e2e $(E2E_FLAGS)

$(TOOLS)/actionlint: tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ github.com/rhysd/actionlint/cmd/actionlint

$(TOOLS)/golangci-lint: tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
