//go:build tools

// Package tools pins the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) in a module of its own, so that
// build.sh builds it from the Go module proxy at the version internal/project.PulumiVersion names.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
