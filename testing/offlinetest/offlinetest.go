// Package offlinetest runs programs and components against the offline mocks from tests.
package offlinetest

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/internal/project"
	"appstack/stacks"
)

// Region is the region component tests run in.
const Region = "ap-southeast-1"

// Run evaluates program in a stack named "test" and fails the test on an error.
func Run(t testing.TB, program pulumi.RunFunc) *offline.Result {
	t.Helper()
	res, err := RunErr(program)
	require.NoError(t, err)
	return res
}

// RunErr evaluates program in a stack named "test" and returns its error.
func RunErr(program pulumi.RunFunc) (*offline.Result, error) {
	return offline.Run(program, offline.Options{Stack: "test", Config: map[string]string{"aws:region": Region}})
}

// One returns the only resource of a type, failing the test if there is not exactly one.
func One(t testing.TB, res *offline.Result, typ string) offline.Resource {
	t.Helper()
	list := res.OfType(typ)
	require.Len(t, list, 1, "resources of type %s", typ)
	return list[0]
}

// Prop returns the input at path, failing the test if it is absent.
func Prop(t testing.TB, r offline.Resource, path string) resource.PropertyValue {
	t.Helper()
	v, ok := offline.Lookup(r.Inputs, path)
	require.True(t, ok, "%s %s has no input %s", r.Type, r.Name, path)
	return v
}

// Str, Num and Bool read an input of that kind.
func Str(t testing.TB, r offline.Resource, path string) string {
	t.Helper()
	v := Prop(t, r, path)
	require.True(t, v.IsString(), "%s is %v, not a string", path, v)
	return v.StringValue()
}

// Num reads a number input.
func Num(t testing.TB, r offline.Resource, path string) float64 {
	t.Helper()
	v := Prop(t, r, path)
	require.True(t, v.IsNumber(), "%s is %v, not a number", path, v)
	return v.NumberValue()
}

// Bool reads a bool input.
func Bool(t testing.TB, r offline.Resource, path string) bool {
	t.Helper()
	v := Prop(t, r, path)
	require.True(t, v.IsBool(), "%s is %v, not a bool", path, v)
	return v.BoolValue()
}

// Root is the project directory (see project.Root).
func Root() string { return project.Root() }

// Documented maps each documented stack to the example directory that commits its file: "example", a stack with a
// domain (examples/frontdoor), and "fleet", a fleet stack (examples/fleet). They are no stacks of the project, so
// they are not at its root; the tests run them from the project directory all the same, as a user runs such a
// file once copied there (its build contexts then name the sample app, app/).
var Documented = map[string]string{"example": "examples/frontdoor", "fleet": "examples/fleet"}

// StackFilePath is where Pulumi.<stack>.yaml is committed: in its example directory for a documented stack (see
// Documented), else at the project's root.
func StackFilePath(stack string) string {
	return filepath.Join(Root(), Documented[stack], "Pulumi."+stack+".yaml")
}

// StackConfig reads Pulumi.<stack>.yaml (StackFilePath) and applies changes (an empty value deletes a key).
func StackConfig(t testing.TB, stack string, changes map[string]string) *offline.StackFile {
	t.Helper()
	f, err := offline.ReadStackFile(StackFilePath(stack))
	require.NoError(t, err)
	for k, v := range changes {
		if v == "" {
			delete(f.Config, k)
		} else {
			f.Config[k] = v
		}
	}
	return f
}

// RunStack evaluates program from the project directory as stack, with cfg and its secret keys.
func RunStack(t *testing.T, program pulumi.RunFunc, stack string, cfg map[string]string,
	secretKeys ...string) (*offline.Result, error) {
	t.Helper()
	t.Chdir(Root())
	return offline.Run(program, offline.Options{Stack: stack, Config: cfg, SecretKeys: secretKeys})
}

// Waivers reads appstack:waivers from a config map, for reviewing a run's findings.
func Waivers(t testing.TB, cfg map[string]string) []stacks.Waiver {
	t.Helper()
	var w []stacks.Waiver
	if raw, ok := cfg["appstack:waivers"]; ok {
		require.NoError(t, json.Unmarshal([]byte(raw), &w))
	}
	return w
}
