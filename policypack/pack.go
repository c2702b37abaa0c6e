package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"appstack/policy"
	"appstack/stacks"
)

// waiversKey is the stack config key that holds the waivers.
const waiversKey = stacks.Namespace + ":waivers"

// StackWaivers reads appstack:waivers from the stack's configuration as the engine hands it to the pack (the
// policyx factory's context carries the stack's config). A stack with no waivers has none.
func StackWaivers(get func(key string) (string, bool)) (stacks.Waivers, error) {
	raw, ok := get(waiversKey)
	if !ok || raw == "" {
		return nil, nil
	}
	var ws stacks.Waivers
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ws); err != nil {
		return nil, fmt.Errorf("%s: want a list of {rule, reason}: %w", waiversKey, err)
	}
	for i, w := range ws {
		if w.Rule == "" || strings.TrimSpace(w.Reason) == "" {
			return nil, fmt.Errorf("%s[%d]: a waiver needs a rule and a reason", waiversKey, i)
		}
	}
	return ws, nil
}

// Name is the policy pack's name, as `pulumi preview --policy-pack` reports it.
const Name = "appstack"

// Version is the pack's version.
var Version = semver.MustParse("0.1.0")

// stackOnly are the rules that need the whole stack at once (a repository and its lifecycle policy; a host's
// ingress rule and the load balancers' groups; a fleet's target groups and its group; a group and its
// notification). policyx offers resource validation policies only, so these run in the offline preview and the
// tests, not in the pack.
var stackOnly = []string{"APPSTACK-ECR-006", "APPSTACK-ELB-006", "APPSTACK-ASG-010", "APPSTACK-ASG-011"}

// Pack returns appstack's rules as a policyx policy pack: one resource validation policy per rule, named after
// the rule's id in lower case, mandatory for critical and high severity, advisory otherwise. A stack accepts a
// finding the way it does everywhere else, with a waiver in appstack:waivers: a waived rule is left out of the
// pack, and a waiver that names an unknown or critical rule is an error, as in the offline preview.
func Pack(waivers stacks.Waivers) (policyx.PolicyPack, error) {
	if problems := policy.CheckWaivers(waivers); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	var policies []policyx.Policy
	for _, rule := range policy.Rules {
		if slices.Contains(stackOnly, rule.ID) {
			continue
		}
		if _, waived := waivers.Find(rule.ID); waived {
			continue
		}
		level := policyx.EnforcementLevelAdvisory
		if rule.Severity == policy.Critical || rule.Severity == policy.High {
			level = policyx.EnforcementLevelMandatory
		}
		policies = append(policies, policyx.NewResourceValidationPolicy(strings.ToLower(rule.ID),
			policyx.ResourceValidationPolicyArgs{
				Description:      fmt.Sprintf("%s (%s)", rule.Title, strings.Join(rule.Mirrors, ", ")),
				EnforcementLevel: level,
				ValidateResource: validator(rule),
			}))
	}
	return policyx.NewPolicyPack(Name, Version, policyx.EnforcementLevelMandatory, policies)
}

// validator runs one rule on the resource the engine hands over.
func validator(rule policy.Rule) func(context.Context, policyx.ResourceValidationArgs) error {
	return func(_ context.Context, args policyx.ResourceValidationArgs) error {
		r := fromAnalyzer(args.Resource)
		if !slices.Contains(rule.Types, r.Type) {
			return nil
		}
		for _, msg := range rule.Check(r, policy.NewStack([]policy.Resource{r})) {
			args.Manager.ReportViolation(fmt.Sprintf("[%s] %s %s: %s. Fix: %s", rule.Severity, rule.ID, r.Name, msg,
				rule.Fix), r.URN)
		}
		return nil
	}
}

// fromAnalyzer turns what the engine sends a policy into the form the rules read. The engine sends inputs and
// options, no outputs.
func fromAnalyzer(a policyx.AnalyzerResource) policy.Resource {
	return policy.Resource{
		Type:           a.Type,
		Name:           a.Name,
		URN:            a.URN,
		Parent:         a.Parent,
		Inputs:         resource.ToResourcePropertyMap(a.Properties),
		Protect:        a.Options.Protect,
		RetainOnDelete: a.Options.RetainOnDelete,
	}
}
