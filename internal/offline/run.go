package offline

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/host"
	"appstack/stacks"
)

// Options says which stack to evaluate and with what configuration.
type Options struct {
	// Project is the Pulumi project name. Default "appstack".
	Project string
	// Stack is the stack name. Required.
	Stack string
	// Config is the stack's configuration as Pulumi passes it to programs. Required.
	Config map[string]string
	// SecretKeys are the keys of Config that hold secrets.
	SecretKeys []string
	// DryRun evaluates as `pulumi preview` does instead of as `pulumi up`.
	DryRun bool
	// Waiter answers the hosts' readiness gates. Default: every host is ready at once (ReadyWaiter).
	Waiter host.Waiter
}

// ReadyWaiter is a readiness gate with no cloud behind it: every host is ready, and it counts the waits.
type ReadyWaiter struct {
	mu    sync.Mutex
	Waits []host.WaitRequest
}

// Wait records the request and reports the host ready.
func (w *ReadyWaiter) Wait(_ context.Context, req host.WaitRequest) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Waits = append(w.Waits, req)
	return nil
}

// Result is everything an offline run declared.
type Result struct {
	Stack     string
	Resources []Resource
	Invokes   []Invoke
	// Exports are the stack outputs, resolved.
	Exports map[string]any
	// SecretExports are the names of exports that are secret.
	SecretExports []string
}

// Run evaluates program against the mocks. The configuration's full key list is handed to the program, so
// that a misspelled key fails as it does in a real run. On an error the result still lists what was registered.
func Run(program pulumi.RunFunc, opts Options) (*Result, error) {
	if opts.Project == "" {
		opts.Project = "appstack"
	}
	if opts.Stack == "" {
		return nil, fmt.Errorf("offline: a stack name is required")
	}
	if opts.Waiter == nil {
		opts.Waiter = &ReadyWaiter{}
	}
	mocks := &Mocks{Project: opts.Project, Stack: opts.Stack, Region: opts.Config[stacks.RegionKey]}
	keys := make([]string, 0, len(opts.Config))
	for k := range opts.Config {
		keys = append(keys, k)
	}
	var (
		mu      sync.Mutex
		exports = map[string]any{}
		outputs = map[string]pulumi.Output{}
	)
	wrapped := func(ctx *pulumi.Context) error {
		if err := program(host.WithWaiter(stacks.WithKeys(ctx, keys), opts.Waiter)); err != nil {
			return err
		}
		for name, v := range ctx.GetCurrentExportMap() {
			out := pulumi.ToOutput(v)
			outputs[name] = out
			out.ApplyT(func(x any) any {
				mu.Lock()
				exports[name] = x
				mu.Unlock()
				return x
			})
		}
		return nil
	}
	err := pulumi.RunErr(wrapped, pulumi.WithMocks(opts.Project, opts.Stack, mocks), func(info *pulumi.RunInfo) {
		info.Config = opts.Config
		info.ConfigSecretKeys = opts.SecretKeys
		info.DryRun = opts.DryRun
	})
	res := &Result{Stack: opts.Stack, Resources: mocks.Resources(), Invokes: mocks.Invokes(), Exports: exports}
	if err != nil {
		// The record still says what was registered before the failure.
		return res, err
	}
	for name, out := range outputs {
		if pulumi.IsSecret(out) {
			res.SecretExports = append(res.SecretExports, name)
		}
	}
	slices.Sort(res.SecretExports)
	return res, nil
}

// RunStackFile evaluates program with the configuration of Pulumi.<stack>.yaml in dir.
func RunStackFile(program pulumi.RunFunc, dir, stack string, dryRun bool) (*Result, error) {
	f, err := ReadStackFile(filepath.Join(dir, "Pulumi."+stack+".yaml"))
	if err != nil {
		return nil, err
	}
	return Run(program, Options{Stack: stack, Config: f.Config, SecretKeys: f.SecretKeys, DryRun: dryRun})
}

// OfType returns the resources of one type token, in name order.
func (r *Result) OfType(typ string) []Resource {
	var out []Resource
	for _, res := range r.Resources {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Named returns the resource with this type and name, or false.
func (r *Result) Named(typ, name string) (Resource, bool) {
	for _, res := range r.Resources {
		if res.Type == typ && res.Name == name {
			return res, true
		}
	}
	return Resource{}, false
}
