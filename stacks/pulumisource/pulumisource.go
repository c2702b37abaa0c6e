// Package pulumisource reads a stack's configuration from a running Pulumi program, as a stacks.Source. It is
// apart from package stacks so that the typed configuration, and the tools and tests that only need it, do not
// link the Pulumi SDK.
package pulumisource

import (
	"encoding/json"
	"os"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/stacks"
)

type keysContextKey struct{}

// WithKeys hands a program the stack's full list of config keys, for runs where the environment does not carry
// them (the offline preview, tests, Automation API inline programs).
func WithKeys(ctx *pulumi.Context, keys []string) *pulumi.Context {
	return ctx.WithValue(keysContextKey{}, slices.Clone(keys))
}

// FromContext reads configuration from a running Pulumi program. The full key list, used to reject misspelled
// keys, comes from WithKeys or else from the environment the Pulumi language host sets (PULUMI_CONFIG); where
// neither has it only the known keys are read.
func FromContext(ctx *pulumi.Context) stacks.Source {
	src := stacks.Source{Get: ctx.GetConfig, IsSecret: ctx.IsConfigSecret, Dir: ctx.RootDirectory()}
	if keys, ok := ctx.Value(keysContextKey{}).([]string); ok {
		src.Keys = keys
		return src
	}
	var all map[string]any
	if raw := os.Getenv(pulumi.EnvConfig); raw != "" && json.Unmarshal([]byte(raw), &all) == nil {
		for k := range all {
			src.Keys = append(src.Keys, k)
		}
	}
	return src
}
