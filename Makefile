# appstack's two everyday commands: `make preview` (offline preview of the staging stack) and `make test`.
GO_FILES = $(shell git ls-files '*.go')

.PHONY: preview test fmt-check vet unit

preview:
	go run ./cmd/preview -stack $(or $(STACK),staging)

test: fmt-check vet unit

fmt-check:
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...
	cd app && go vet ./...

unit:
	go test ./...
	cd app && go test ./...
