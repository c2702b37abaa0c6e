// Package components holds no code of its own: it is the library the program is built from. Each component
// resource is a package under it (components/<name>, with Args and New); beside them are the packages those
// components run at deploy time, which declare no resource (rollout, readiness, targethealth, imageref,
// instancetype, tags). Nothing here imports the stack config (stacks/) or the program (infra/): testing/workflows
// checks it.
//
// The tests of all the components live here, as one test binary, because every test binary links the Pulumi
// SDK and the AWS packages its component uses — 2.5 to 5.5 s per binary on two cores — and one binary instead of
// eight keeps a warm `go test ./...` inside its budget (docs/performance.md). Each file is named after the
// component it tests.
package components
