// Package project locates the appstack project directory for tests and tools, with no dependencies, so that a
// test that only needs a path does not link the Pulumi SDK.
package project

import (
	"path/filepath"
	"runtime"
)

// Root is the project directory (Pulumi.yaml, the stack files, the sample app), found from this file's own
// location so that tests in any package agree on it.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// PulumiVersion is the Pulumi CLI version appstack runs and tests with: stackctl installs it by default
// (stackctl install-cli), and tools/pulumi-cli/build.sh (make pulumi-cli, .ci/run) builds the same version from
// the Go module proxy, reading it here. It is the one place the version is pinned; the two go.mod files under
// tools/pulumi-cli must require github.com/pulumi/pulumi/pkg/v3 at it (build.sh and a test check).
const PulumiVersion = "3.200.0"

// MinimumPulumiVersion is the oldest Pulumi CLI the lifecycle supports: the one the engine-level test runs. The
// features it relies on are older (refresh previews since 3.105.0, the secrets-manager fallback to the stack's
// last deployment, PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER, since 3.134.0), but only this version is tested.
const MinimumPulumiVersion = PulumiVersion
