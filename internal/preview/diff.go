package preview

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/policy"
	"appstack/stacks"
)

// ReplaceOn lists, per type, the inputs whose change replaces the resource: the provider's force-new fields
// (ForceNew in terraform-provider-aws, which pulumi-aws bridges) and the conditional ones appstack meets (the
// host's user-data through userDataReplaceOnChange, its launch template's version). testdata/forcenew.json holds
// what each was read from; TestReplaceOnListsOnlyInputsTheProviderReplacesOn and
// TestEveryForceNewInputAppstackSetsIsInReplaceOn hold this table to it.
var ReplaceOn = map[string][]string{
	policy.Instance: {"userData", "userDataBase64", "subnetId", "associatePublicIpAddress",
		"rootBlockDevice.encrypted", "ami", "ebsOptimized", "launchTemplate.id", "launchTemplate.name",
		"launchTemplate.version"},
	policy.Table:      {"name", "hashKey", "rangeKey", "localSecondaryIndexes"},
	policy.Repository: {"name", "encryptionConfigurations"},
	// A lifecycle policy has no update: a new policy is a new resource (PutLifecyclePolicy again).
	"aws:ecr/lifecyclePolicy:LifecyclePolicy": {"repository", "policy"},
	policy.Parameter: {"name", "dataType"},
	// The stack key's kind; its policy, description and rotation change in place.
	policy.Key:                              {"customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"},
	policy.SecurityGroup:                    {"name", "description", "vpcId"},
	policy.Eip:                              {"domain"},
	"aws:ec2/eipAssociation:EipAssociation": {"instanceId", "allocationId", "allowReassociation"},
	policy.Role:                             {"name", "namePrefix", "path"},
	"aws:iam/instanceProfile:InstanceProfile":           {"name", "namePrefix", "path"},
	"aws:iam/rolePolicy:RolePolicy":                     {"name", "namePrefix", "role"},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {"role", "policyArn"},
	// A rule moves to another group only by being created there; a new source of another kind (a CIDR for a
	// group) also replaces it, which a path-by-path table cannot tell from a new CIDR.
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {"securityGroupId"},
	"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":   {"securityGroupId"},
	policy.LogGroup: {"name"},
	// The front door's and the fleet's are in frontDoorReplaceOn (frontdoor.go).
	// policy.DockerImage has none: pulumi-docker v4.10.0's Diff never asks for a replacement; any change is an
	// Update that builds and pushes again (provider/provider.go).
}

// productionData are the types whose loss in production loses data or the public address.
var productionData = []string{policy.Table, policy.Eip, policy.Parameter, policy.Key}

// Change is how one resource differs between two reports.
type Change struct {
	Kind string `json:"kind"` // add, remove, change, or environment (the stack's appstack:environment)
	URN  string `json:"urn"`
	Type string `json:"type"`
	Name string `json:"name"`
	// RenamedFrom is the URN the base report has the resource under, when head renamed it with an alias: the
	// engine moves it to its new URN and keeps it.
	RenamedFrom string           `json:"renamedFrom,omitempty"`
	Properties  []PropertyChange `json:"properties,omitempty"`
	// ReplaceBecause names the changed inputs that replace the resource; empty for an update in place.
	ReplaceBecause []string `json:"replaceBecause,omitempty"`
	// ProductionData marks a change that can lose production data or the production address.
	ProductionData bool `json:"productionData,omitempty"`
	// Protected marks a resource whose removal or replacement pulumi will refuse.
	Protected bool `json:"protected,omitempty"`
}

// PropertyChange is one input's old and new value.
type PropertyChange struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: not a preview report: %w", path, err)
	}
	return &r, nil
}

// Diff lists what head adds, removes and changes relative to base, in URN order. A head resource whose aliases
// name a base resource is that resource renamed, not a new one: pulumi moves it and keeps it.
//
// Production's data is judged as production's whenever either report is production's, by environment or by the
// stack's name: a pull request that also moves the production stack file to another environment must not switch
// the check off. Such a move is itself a production-data change, since production's safeguards (protection,
// deletion protection, retention) follow the environment.
func Diff(base, head *Report) []Change {
	prod := isProduction(base) || isProduction(head)
	old := map[string]Resource{}
	for _, r := range base.Resources {
		old[r.URN] = r
	}
	var out []Change
	if base.Environment != head.Environment {
		out = append(out, Change{Kind: "environment", Type: "appstack:environment", Name: head.Stack,
			ProductionData: prod, Properties: []PropertyChange{{Path: stacks.Namespace + ":environment",
				Old: base.Environment, New: head.Environment}}})
	}
	seen := map[string]bool{}
	for _, r := range head.Resources {
		seen[r.URN] = true
		o, ok := old[r.URN]
		renamedFrom := ""
		for _, alias := range r.Options.Aliases {
			// Only a resource of the same type is kept through an alias; the engine would not turn a table
			// into a log group, and a diff that believed it would hide the table's removal.
			if a, found := old[alias]; !ok && found && !seen[alias] && a.Type == r.Type {
				o, ok, renamedFrom = a, true, alias
				seen[alias] = true
			}
		}
		if !ok {
			out = append(out, Change{Kind: "add", URN: r.URN, Type: r.Type, Name: r.Name})
			continue
		}
		c := Change{Kind: "change", URN: r.URN, Type: r.Type, Name: r.Name, RenamedFrom: renamedFrom,
			Protected: o.Options.Protect, ProductionData: prod && isProductionData(r.Type)}
		before, after := flatten(o.Inputs), flatten(r.Inputs)
		for _, path := range unionKeys(before, after) {
			if before[path] == after[path] {
				continue
			}
			c.Properties = append(c.Properties, PropertyChange{Path: path, Old: before[path], New: after[path]})
			for _, trigger := range ReplaceOn[r.Type] {
				if (path == trigger || strings.HasPrefix(path, trigger+".") || strings.HasPrefix(path, trigger+"[")) &&
					!slices.Contains(c.ReplaceBecause, trigger) && !slices.Contains(o.Options.IgnoreChanges, trigger) {
					c.ReplaceBecause = append(c.ReplaceBecause, trigger)
				}
			}
		}
		if len(c.Properties) > 0 || c.RenamedFrom != "" {
			out = append(out, c)
		}
	}
	for _, o := range base.Resources {
		if !seen[o.URN] {
			out = append(out, Change{Kind: "remove", URN: o.URN, Type: o.Type, Name: o.Name, Protected: o.Options.Protect,
				ProductionData: prod && isProductionData(o.Type)})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.URN, b.URN) })
	return out
}

func isProductionData(typ string) bool {
	return slices.Contains(productionData, typ)
}

// isProduction says whether a report is production's, by its environment or its stack's name.
func isProduction(r *Report) bool {
	return r.Environment == string(stacks.Production) || r.Stack == string(stacks.Production)
}

// WriteDiff prints the changes, replacements and production-data warnings first.
func WriteDiff(w io.Writer, base, head *Report, changes []Change) error {
	p := &printer{w: w}
	var adds, removes, updates, replaces, renames int
	for _, c := range changes {
		if c.RenamedFrom != "" {
			renames++
		}
		switch {
		case c.Kind == "add":
			adds++
		case c.Kind == "remove":
			removes++
		case len(c.ReplaceBecause) > 0:
			replaces++
		case len(c.Properties) > 0:
			updates++
		}
	}
	p.printf("Changes from the base report of %q to stack %q: %d to add, %d to change in place, %d to replace, "+
		"%d to remove, %d renamed and kept\n", base.Stack, head.Stack, adds, updates, replaces, removes, renames)
	for _, c := range changes {
		if c.Kind == "environment" && c.ProductionData {
			p.printf("!! PRODUCTION DATA: stack %s moves appstack:environment from %q to %q; production's "+
				"safeguards (protection, deletion protection, retention) follow it\n", c.Name, c.Properties[0].Old,
				c.Properties[0].New)
		}
		destructive := c.Kind == "remove" || len(c.ReplaceBecause) > 0
		if destructive && c.ProductionData {
			p.printf("!! PRODUCTION DATA: %s %s would be %s\n", c.Type, c.Name, verb(c))
		}
		if destructive && c.Protected {
			p.printf("!! PROTECTED: %s %s would be %s; pulumi will refuse until protect is lifted\n", c.Type,
				c.Name, verb(c))
		}
	}
	for _, c := range changes {
		mark := map[string]string{"add": "+", "remove": "-", "change": "~", "environment": "~"}[c.Kind]
		note := ""
		if c.RenamedFrom != "" {
			note = "  (renamed from " + resource.URN(c.RenamedFrom).Name() + ", kept through its alias)"
		}
		if len(c.ReplaceBecause) > 0 {
			mark, note = "+-", note+"  REPLACE because of "+strings.Join(c.ReplaceBecause, ", ")
		}
		p.printf("%-2s %s %s%s\n", mark, c.Type, c.Name, note)
		for _, pc := range c.Properties {
			p.printf("     %s: %s\n", pc.Path, describeChange(pc.Old, pc.New))
		}
	}
	return p.err
}

func verb(c Change) string {
	if c.Kind == "remove" {
		return "deleted"
	}
	return "replaced (deleted and created anew)"
}

// describeChange shows short values whole and long ones (scripts, policies) by their changed lines.
func describeChange(old, new string) string {
	if len(old) <= 100 && len(new) <= 100 && !strings.Contains(old+new, "\n") {
		return fmt.Sprintf("%q -> %q", old, new)
	}
	oldLines, newLines := strings.Split(old, "\n"), strings.Split(new, "\n")
	var b strings.Builder
	fmt.Fprintf(&b, "%d -> %d bytes", len(old), len(new))
	shown := 0
	for _, l := range oldLines {
		if !slices.Contains(newLines, l) && shown < 6 {
			fmt.Fprintf(&b, "\n         - %s", truncate(l))
			shown++
		}
	}
	for _, l := range newLines {
		if !slices.Contains(oldLines, l) && shown < 12 {
			fmt.Fprintf(&b, "\n         + %s", truncate(l))
			shown++
		}
	}
	return b.String()
}

func truncate(s string) string {
	if len(s) > 140 {
		return s[:137] + "..."
	}
	return s
}

// flatten turns nested inputs into path -> value, with scalars as text and leaves as JSON.
func flatten(m map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				walk(join(prefix, k), x)
			}
		case []any:
			for i, x := range t {
				walk(fmt.Sprintf("%s[%d]", prefix, i), x)
			}
		case string:
			out[prefix] = t
		default:
			raw, _ := json.Marshal(t)
			out[prefix] = string(raw)
		}
	}
	walk("", m)
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func unionKeys(a, b map[string]string) []string {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
