package offline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/readiness"
	"appstack/stacks"
	"appstack/stacks/pulumisource"
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
	// Boots are the outcomes of the created hosts' boots, in order (BootOutcome); after them every boot ends
	// ready. The hosts' readiness gates read the signals these boots write, through the invokes the mocks answer.
	Boots []BootOutcome
	// Parameters are SSM parameters that exist before the run, such as an earlier deploy's readiness signals.
	Parameters map[string]string
	// Zones are the public hosted zones the account holds. Default nil: every zone asked for exists.
	Zones []string
	// Denied are parameter names and paths the deploy may not read (Mocks.Denied).
	Denied []string
	// Settle lets hosts wait for the front door's health checks after registering, as a deploy does
	// (host.Args.HealthySettle). Default false: the mocks model no load balancer timing, so nothing waits.
	Settle bool
	// Registry is the ECR registry the run pushes to and looks images up in. Default: an empty one. Pass the
	// same registry to successive runs to model successive deploys.
	Registry *Registry
	// Caller is the deploy's caller ARN and Roles the IAM roles that exist, with their paths (Mocks.Caller,
	// Mocks.Roles). Default: a CI role's session.
	Caller string
	Roles  map[string]string
	// Groups are Auto Scaling groups that exist before the run (Mocks.Groups).
	Groups map[string]Group
	// Missing are the IAM policies and roles the account lacks (Mocks.Missing).
	Missing []string
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
	// Parameters are the SSM parameters after the run (the modelled boots' signals among them).
	Parameters map[string]string
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
	mocks := &Mocks{Project: opts.Project, Stack: opts.Stack, Region: opts.Config[stacks.RegionKey],
		BootOnCreate: !opts.DryRun, Boots: opts.Boots, Denied: opts.Denied, Registry: opts.Registry,
		Zones: opts.Zones, Caller: opts.Caller, Roles: opts.Roles, Groups: opts.Groups, Missing: opts.Missing}
	for name, value := range opts.Parameters {
		mocks.SetParameter(name, value)
	}
	keys := make([]string, 0, len(opts.Config))
	for k := range opts.Config {
		keys = append(keys, k)
	}
	var (
		exports = map[string]any{}
		outputs = map[string]pulumi.Output{}
		// resolved is closed once every export's value is in exports: the run can end before the applies
		// that read them have run, so the result waits for it.
		resolved = make(chan struct{})
	)
	wrapped := func(ctx *pulumi.Context) error {
		if !opts.Settle {
			ctx = ctx.WithValue(readiness.NoSettle, true)
		}
		if err := program(pulumisource.WithKeys(ctx, keys)); err != nil {
			return err
		}
		var names []string
		var values []any
		for name, v := range ctx.GetCurrentExportMap() {
			outputs[name] = pulumi.ToOutput(v)
			names = append(names, name)
			values = append(values, outputs[name])
		}
		pulumi.All(values...).ApplyT(func(vs []any) any {
			for i, name := range names {
				exports[name] = vs[i]
			}
			close(resolved)
			return nil
		})
		return nil
	}
	err := pulumi.RunErr(wrapped, pulumi.WithMocks(opts.Project, opts.Stack, mocks), func(info *pulumi.RunInfo) {
		info.Config = opts.Config
		info.ConfigSecretKeys = opts.SecretKeys
		info.DryRun = opts.DryRun
	})
	res := &Result{Stack: opts.Stack, Resources: mocks.Resources(), Invokes: mocks.Invokes(), Exports: map[string]any{},
		Parameters: mocks.Parameters()}
	if err != nil {
		// The record still says what was registered before the failure.
		return res, err
	}
	select {
	case <-resolved:
		res.Exports = exports
	case <-time.After(10 * time.Second):
		return res, fmt.Errorf("offline: the stack outputs did not resolve")
	}
	for name, out := range outputs {
		if pulumi.IsSecret(out) {
			res.SecretExports = append(res.SecretExports, name)
		}
	}
	slices.Sort(res.SecretExports)
	return res, nil
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
