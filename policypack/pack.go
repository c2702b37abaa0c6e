package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"appstack/internal/offline"
	"appstack/policy"
)

// Name is the policy pack's name, as `pulumi preview --policy-pack` reports it.
const Name = "appstack"

// Version is the pack's version.
var Version = semver.MustParse("0.1.0")

// stackOnly are the rules that need the whole stack at once (a repository and its lifecycle policy; a host's
// ingress rule and the load balancers' groups). policyx offers resource validation policies only, so these run
// in the offline preview and the tests, not in the pack.
var stackOnly = []string{"APPSTACK-ECR-006", "APPSTACK-ELB-006"}

// Pack returns appstack's rules as a policyx policy pack: one resource validation policy per rule, named after
// the rule's id in lower case, mandatory for critical and high severity, advisory otherwise. A stack accepts a
// finding in the pack by setting that policy's enforcementLevel to disabled in its policy config, the pack's
// form of an appstack waiver.
func Pack() (policyx.PolicyPack, error) {
	var policies []policyx.Policy
	for _, rule := range policy.Rules {
		if slices.Contains(stackOnly, rule.ID) {
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
		for _, msg := range rule.Check(r, policy.NewStack([]offline.Resource{r})) {
			args.Manager.ReportViolation(fmt.Sprintf("[%s] %s %s: %s. Fix: %s", rule.Severity, rule.ID, r.Name, msg,
				rule.Fix), r.URN)
		}
		return nil
	}
}

// fromAnalyzer turns what the engine sends a policy into the form the rules read.
func fromAnalyzer(a policyx.AnalyzerResource) offline.Resource {
	return offline.Resource{
		Type:           a.Type,
		Name:           a.Name,
		URN:            a.URN,
		Parent:         a.Parent,
		Custom:         true,
		Inputs:         resource.ToResourcePropertyMap(a.Properties),
		Protect:        a.Options.Protect,
		RetainOnDelete: a.Options.RetainOnDelete,
		IgnoreChanges:  a.Options.IgnoreChanges,
	}
}
