// Package preview builds appstack's offline preview report: the resources a stack declares, the policy
// findings and waivers, an estimated monthly cost, and the difference from another report.
package preview

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/infra"
	"appstack/infra/appstack"
	"appstack/internal/offline"
	"appstack/policy"
	"appstack/stacks"
)

// Report is everything the offline preview says about one stack. Its JSON form is stable: resources sorted by
// URN, map keys sorted, no timestamps.
type Report struct {
	Stack       string `json:"stack"`
	Environment string `json:"environment"`
	// Serving says how users reach the services: HTTPS through the front door, or plain HTTP.
	Serving   string           `json:"serving"`
	Resources []Resource       `json:"resources"`
	Outputs   map[string]any   `json:"outputs"`
	Findings  []policy.Finding `json:"findings"`
	Waived    []policy.Finding `json:"waived"`
	Cost      Estimate         `json:"cost"`
	// Warnings name what deploys but is likely a mistake, each by its key (a secret no service uses, a secret
	// that holds a placeholder instead of ciphertext).
	Warnings []string        `json:"warnings,omitempty"`
	result   *offline.Result // for the tree; absent in a report read back from JSON
}

// Resource is one declared resource, with secrets masked.
type Resource struct {
	URN     string         `json:"urn"`
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Parent  string         `json:"parent,omitempty"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	Options Options        `json:"options"`
}

// Options are the resource options a reviewer needs to see.
type Options struct {
	Protect        bool     `json:"protect,omitempty"`
	RetainOnDelete bool     `json:"retainOnDelete,omitempty"`
	IgnoreChanges  []string `json:"ignoreChanges,omitempty"`
	// Import is the id of an existing resource the stack adopts (pulumi import) instead of creating it.
	Import string `json:"import,omitempty"`
	// Aliases are the URNs the resource had before a rename (pulumi.Aliases, and its parent's): a stack that
	// holds it under one of them keeps it.
	Aliases []string `json:"aliases,omitempty"`
}

// Secret replaces every secret value in a report.
const Secret = "[secret]"

// Run evaluates the program against Pulumi.<stack>.yaml in dir and builds the report.
func Run(dir, stack string) (*Report, error) {
	f, err := offline.ReadStackFile(filepath.Join(dir, "Pulumi."+stack+".yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		names := offline.StackNames(dir)
		if len(names) == 0 {
			return nil, fmt.Errorf("stack %s: %w; %s holds no Pulumi.<stack>.yaml (is -dir the project?)", stack,
				err, dir)
		}
		return nil, fmt.Errorf("stack %s: %w; the stacks in %s are: %s%s", stack, err, dir, strings.Join(names, ", "),
			exampleHint(dir, stack))
	}
	if err != nil {
		return nil, err
	}
	return RunConfig(dir, stack, f)
}

// exampleHint names the example directories under dir that hold Pulumi.<stack>.yaml, with the -dir that previews
// them: a documented stack lives among the examples, not at the project's root.
func exampleHint(dir, stack string) string {
	found, _ := filepath.Glob(filepath.Join(dir, "examples", "*", "Pulumi."+stack+".yaml"))
	var dirs []string
	for _, f := range found {
		if rel, err := filepath.Rel(dir, filepath.Dir(f)); err == nil {
			dirs = append(dirs, "-dir "+filepath.ToSlash(rel))
		}
	}
	if len(dirs) == 0 {
		return ""
	}
	return "; an example holds it: " + strings.Join(dirs, ", ")
}

// RunConfig evaluates the program with a stack's configuration and builds the report.
func RunConfig(dir, stack string, f *offline.StackFile) (*Report, error) {
	res, err := offline.Run(infra.Program, offline.Options{Stack: stack, Config: f.Config, SecretKeys: f.SecretKeys,
		DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", stack, err)
	}
	cfg, err := stacks.Load(stacks.Source{
		Get:      func(k string) (string, bool) { v, ok := f.Config[k]; return v, ok },
		IsSecret: func(k string) bool { return slices.Contains(f.SecretKeys, k) },
		Dir:      dir,
	})
	if err != nil {
		return nil, err
	}
	r := Build(res, cfg)
	if problems := policy.UnusedWaivers(cfg.Waivers, r.Waived); len(problems) > 0 {
		return nil, fmt.Errorf("stack %s: %w", stack, &stacks.Error{Problems: problems})
	}
	for _, k := range f.Placeholders {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: holds a placeholder, not ciphertext: pulumi preview and "+
			"up stop with \"could not decrypt configuration value: : bad value\" until it is set (pulumi config "+
			"set --secret --path '%s' VALUE)", k, k))
	}
	return r, nil
}

// Build makes the report of an offline run.
func Build(res *offline.Result, cfg *stacks.Config) *Report {
	r := &Report{Stack: res.Stack, Environment: string(cfg.Environment), Outputs: map[string]any{}, result: res,
		Serving: serving(cfg, res.Stack)}
	for _, x := range res.Resources {
		r.Resources = append(r.Resources, Resource{
			URN: x.URN, Type: x.Type, Name: x.Name, Parent: x.Parent,
			Inputs: mask(resource.NewObjectProperty(x.Inputs)).(map[string]any),
			Options: Options{Protect: x.Protect, RetainOnDelete: x.RetainOnDelete,
				IgnoreChanges: x.IgnoreChanges, Import: x.Import, Aliases: x.Aliases},
		})
	}
	slices.SortFunc(r.Resources, func(a, b Resource) int { return strings.Compare(a.URN, b.URN) })
	for name, v := range res.Exports {
		if slices.Contains(res.SecretExports, name) {
			v = Secret
		}
		r.Outputs[name] = v
	}
	r.Findings, r.Waived = policy.Review(offline.PolicyResources(res.Resources), cfg.Waivers)
	// Empty lists, not null, so that the JSON has one shape.
	r.Findings = append([]policy.Finding{}, r.Findings...)
	r.Waived = append([]policy.Finding{}, r.Waived...)
	r.Cost = EstimateCost(cfg, res)
	r.Warnings = append(cfg.UnusedSecrets(), appstack.NameClashes(cfg)...)
	return r
}

// serving describes how users reach the services.
func serving(cfg *stacks.Config, stack string) string {
	if !cfg.HasFrontDoor() {
		return "plain HTTP on the host's Elastic IP, service ports open to appstack:ingressCidrs; no TLS " +
			"(set appstack:domain for HTTPS through the front door)"
	}
	hosts := cfg.Hostnames(stack)
	var names []string
	for _, s := range cfg.Services {
		names = append(names, "https://"+hosts[s.Name]+"/")
	}
	return "HTTPS through the front door (Application Load Balancer, ACM certificates, HTTP redirected, " +
		"TLS 1.2+, HSTS); the host admits the service ports from the front door only. The hosted zone " +
		cfg.Domain + " is assumed to exist offline. " + strings.Join(names, " ")
}

// mask turns a property value into plain JSON-able data with every secret replaced.
func mask(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Secret
	case v.IsObject():
		out := map[string]any{}
		for k, x := range v.ObjectValue() {
			out[string(k)] = mask(x)
		}
		return out
	case v.IsArray():
		out := []any{}
		for _, x := range v.ArrayValue() {
			out = append(out, mask(x))
		}
		return out
	case v.IsComputed() || v.IsOutput():
		return "<computed>"
	case v.IsNull():
		return nil
	}
	return v.Mappable()
}

// WriteJSON writes the report as indented, stable JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the tree, the findings, the waivers, the cost estimate and the outputs.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.printf("Offline preview of stack %q (%s): %d resources. No cloud account is used: ids, addresses and "+
		"digests are stand-ins.\n\n", r.Stack, r.Environment, len(r.Resources))
	if r.Serving != "" {
		p.printf("Serving: %s\n\n", r.Serving)
	}
	if r.result != nil {
		if err := r.result.WriteTree(w); err != nil {
			return err
		}
	}
	var imports []string
	for _, res := range r.Resources {
		if res.Options.Import != "" {
			imports = append(imports, fmt.Sprintf("  %s %s <- existing %s\n", res.Type, res.Name, res.Options.Import))
		}
	}
	if len(imports) > 0 {
		p.printf("\nAdopted (pulumi import: read, not created; the first up shows any setting it changes as an "+
			"update):\n%s", strings.Join(imports, ""))
	}
	if len(r.Warnings) > 0 {
		p.printf("\nWarnings:\n")
		for _, w := range r.Warnings {
			p.printf("  %s\n", w)
		}
	}
	p.printf("\nPolicy: %d rules, %d open findings, %d waived\n", len(policy.Rules), len(r.Findings), len(r.Waived))
	for _, f := range r.Findings {
		p.printf("  %s\n", f)
	}
	for _, f := range r.Waived {
		p.printf("  %s\n", f)
	}
	p.printf("\n")
	r.Cost.write(p)
	p.printf("\nOutputs:\n")
	for _, name := range slices.Sorted(maps.Keys(r.Outputs)) {
		p.printf("  %-15s %v\n", name, r.Outputs[name])
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
