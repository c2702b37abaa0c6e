package main

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/lifecycle"
)

// dispatched is every command run dispatches on: the string cases of its switches on args[0], read from the
// source, so that a command added there without a line in -h fails this test.
func dispatched(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, 0)
	require.NoError(t, err)
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		sw, ok := n.(*ast.SwitchStmt)
		if !ok {
			return true
		}
		if ix, ok := sw.Tag.(*ast.IndexExpr); !ok || types(ix.X) != "args" {
			return true
		}
		for _, stmt := range sw.Body.List {
			for _, e := range stmt.(*ast.CaseClause).List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					names = append(names, name)
				}
			}
		}
		return true
	})
	require.NotEmpty(t, names)
	return names
}

func types(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func runHelp(t *testing.T, args ...string) string {
	t.Helper()
	var out strings.Builder
	require.NoError(t, run(context.Background(), args, &out, &lifecycle.Manager{}), "%v", args)
	return out.String()
}

func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"help"}} {
		out := runHelp(t, args...)
		for _, name := range dispatched(t) {
			c, ok := lookupCommand(name)
			require.True(t, ok, "command %q has no line in stackctl -h", name)
			assert.Contains(t, out, "  "+name+" ", "%v", args)
			assert.Contains(t, out, c.summary, "%v", args)
		}
	}
}

func TestCommandHelpDescribesItsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"up", "-h"}, []string{"stackctl up -stack S", "-stack string", "stack name",
			"-outputs string", "Flags every stack command takes", "-dir string", "-policy-pack string"}},
		{[]string{"help", "up"}, []string{"stackctl up -stack S", "-stack string"}},
		{[]string{"unlock", "-h"}, []string{"-min-age duration", "unlock refuses a lock younger than this",
			"-force"}},
		{[]string{"review", "-help"}, []string{"-pr int", "pull request number", "-ttl duration", `(default "72h0m0s")`}},
		{[]string{"setup", "-h"}, []string{"-bootstrap string", "the bootstrap's project directory",
			"-bootstrap-stack string", `(default "main")`}},
		{[]string{"comment", "-pr", "7", "-h"}, []string{"stackctl comment -previews DIR", "-head-sha SHA",
			"pull request number"}},
		{[]string{"install-cli", "-h"}, []string{"-pulumi-version string"}},
	} {
		out := runHelp(t, tc.args...)
		for _, w := range tc.want {
			assert.Contains(t, out, w, "%v", tc.args)
		}
	}
	// Each command's own flags are described.
	for _, c := range commands {
		if c.name == "comment" || c.name == "help" {
			continue
		}
		out := runHelp(t, c.name, "-h")
		assert.Contains(t, out, c.summary, c.name)
		for _, f := range c.flags {
			assert.Contains(t, out, "  -"+f+" ", "%s -h lists -%s", c.name, f)
		}
	}
	err := run(context.Background(), []string{"help", "launch"}, &strings.Builder{}, &lifecycle.Manager{})
	assert.ErrorIs(t, err, errUsage)
	assert.ErrorContains(t, err, `unknown command "launch"`)
}
