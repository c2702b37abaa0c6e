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
