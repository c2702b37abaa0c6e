// Package components holds no code of its own: each component resource is a package under it
// (components/<name>, with Args and New). The tests of all of them live here, as one test binary, because
// every test binary links the Pulumi SDK and the AWS packages its component uses — 2.5 to 5.5 s per binary
// on two cores — and one binary instead of eight keeps a warm `go test ./...` inside its budget
// (docs/performance.md). Each file is named after the component it tests.
package components
