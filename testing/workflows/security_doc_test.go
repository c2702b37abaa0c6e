package workflows

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/project"
)

// TestEverySecurityClaimNamesATestThatExists keeps docs/security.md honest: each "cannot" row names the tests
// that prove it, and a renamed or deleted test fails here instead of leaving a claim with no proof.
func TestEverySecurityClaimNamesATestThatExists(t *testing.T) {
	root := project.Root()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	require.NoError(t, err)
	var rows int
	named := map[string]bool{}
	inClaims := false // inside a table whose header is "| cannot | proved by |"
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, "| cannot | proved by |"):
			inClaims = true
			continue
		case !strings.HasPrefix(line, "|"):
			inClaims = false
			continue
		case !inClaims || strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 2 {
			continue
		}
		tests := regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatch(cells[1], -1)
		if !assert.NotEmpty(t, tests, "docs/security.md: %q names no test", cells[0]) {
			continue
		}
		rows++
		for _, m := range tests {
			named[m[1]] = true
		}
	}
	require.Greater(t, rows, 20, "docs/security.md lost its table of claims")

	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == ".tools") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	}))
	for name := range named {
		assert.True(t, defined[name], "docs/security.md names %s, which no test file defines", name)
	}
}
