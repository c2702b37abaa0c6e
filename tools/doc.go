// Package tools pins the linters appstack's CI runs, in a module of their own so that their dependencies never
// enter the program's build: `go tool -modfile=tools/go.mod actionlint`, `... golangci-lint run`.
package tools
