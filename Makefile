# appstack's two everyday commands: `make preview` (offline preview of the staging stack) and `make test`.
# `make preview STACK=production`; an example's stack: `make preview DIR=examples/fleet STACK=fleet`.
# The linters are pinned in tools/go.mod and built into .tools/bin on first use.
GO_FILES = $(shell git ls-files '*.go')
TOOLS = .tools/bin
SHELLCHECK = $(shell command -v shellcheck)
# gotestsum runs `go test` and ends with a summary that lists every skipped test with its reason.
GOTESTSUM = $(TOOLS)/gotestsum
# Where the engine tests find the Pulumi CLI and its Go language host: $APPSTACK_PULUMI_ROOT/bin, else
# .tools/pulumi/bin (`make pulumi-cli` builds them there).
PULUMI_ROOTS = $(APPSTACK_PULUMI_ROOT) .tools/pulumi

.PHONY: preview test fmt-check vet lint unit engine pulumi-cli bench e2e

# The first run downloads the modules and compiles the program and the Pulumi AWS SDK: about 10 minutes, 3.7 GiB
# of memory and 6 GB of module and build caches on two cores, silent after the downloads (README.md,
# "Prerequisites"); later runs take seconds.
preview:
	@echo "preview: building cmd/preview; with empty Go caches this takes about 10 minutes and 3.7 GiB of memory," \
		"silent after the module downloads (later runs: seconds)"
	go run ./cmd/preview -dir $(or $(DIR),.) -stack $(or $(STACK),staging)

test: fmt-check vet lint unit engine

fmt-check:
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...
	go vet -tags engine ./testing/engine ./e2e/cloud
	cd app && go vet ./...
	cd examples/library && go vet ./...

lint: $(TOOLS)/actionlint $(TOOLS)/golangci-lint
	$(TOOLS)/actionlint -shellcheck=$(SHELLCHECK)
	$(TOOLS)/golangci-lint run --build-tags engine ./...

unit: $(GOTESTSUM)
	$(GOTESTSUM) --format pkgname -- ./...
	cd app && $(abspath $(GOTESTSUM)) --format pkgname -- ./...

# The engine-level tests: the real Pulumi CLI and Go language host ($APPSTACK_PULUMI_ROOT/bin or .tools/pulumi/bin,
# built by `make pulumi-cli`), a file backend, stand-in providers and a KMS stand-in (see testing/engine;
# e2e/cloud runs the end-to-end suite's stack adapter there). Their scenarios run in parallel; the
# budget (docs/performance.md, "Engine tests") is 20 minutes on two shared cores; the timeout, which counts the
# binaries the tests build, is a hang detector that leaves room for a machine several times busier, inside
# CI's 90 minutes. Without the CLI they skip, and the last line says so, except in CI, where they fail.
engine: $(GOTESTSUM)
	$(GOTESTSUM) --format pkgname -- -tags engine -count=1 -timeout 60m -parallel 4 \
		./testing/engine ./e2e/cloud
	@for root in $(PULUMI_ROOTS); do [ -x "$$root/bin/pulumi" ] && [ -x "$$root/bin/pulumi-language-go" ] && exit 0; \
	done; echo "SKIPPED: the engine tests (testing/engine, e2e/cloud) did not run: no Pulumi CLI and Go" \
		"language host in \$$APPSTACK_PULUMI_ROOT/bin or .tools/pulumi/bin. Build them with: make pulumi-cli"

# The Pulumi CLI and its Go language host, at the version internal/project.PulumiVersion pins, built from the Go
# module proxy into .tools/pulumi/bin (about 6 minutes cold; see tools/pulumi-cli/build.sh).
pulumi-cli:
	tools/pulumi-cli/build.sh

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

$(TOOLS)/gotestsum: tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ gotest.tools/gotestsum
