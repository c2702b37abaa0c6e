// Package policy holds appstack's security and safety rules, evaluated over the resources a stack declares
// (type, name, inputs, resource options). Each rule carries the ids of the public rules it mirrors (checkov
// CKV_AWS_*, trivy AVD-AWS-*, Pulumi AWSGuard), so a security team can map a finding to the rule they know.
//
// The rules read a Resource of their own, so the program that links them links neither the offline preview's
// mocks nor the policy pack's engine types. Their own tests (policy_test.go) judge resources built by hand; the
// tests that run the program and break one property of its output per rule are in infra/policy_test.go.
package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/stacks"
)

// Severity ranks a finding.
type Severity string

// Severities, from most to least urgent.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Rule is one check.
type Rule struct {
	// ID is appstack's id for the rule.
	ID string
	// Mirrors are the public rule ids this rule enforces.
	Mirrors []string
	Severity
	// Title says what must hold.
	Title string
	// Fix says how to make a failing resource pass.
	Fix string
	// AdoptedFix says how to reconcile an adopted resource (pulumi import) that fails: which setting to state
	// and what the next up then changes. Optional.
	AdoptedFix string
	// Types are the resource types the rule looks at.
	Types []string
	// Check returns one message per problem with r. s is the whole stack, for rules that need context.
	Check func(r Resource, s *Stack) []string
}

// Finding is one rule failing on one resource.
type Finding struct {
	// Waiver is the stated reason the finding is accepted; empty for an open finding.
	Waiver   string `json:",omitempty"`
	Rule     string
	Mirrors  []string
	Severity Severity
	Type     string
	Name     string
	URN      string
	Message  string
	Fix      string
}

func (f Finding) String() string {
	if f.Waiver != "" {
		return fmt.Sprintf("[waived] %s %s %s: %s. Reason: %s", f.Rule, f.Type, f.Name, f.Message, f.Waiver)
	}
	return fmt.Sprintf("[%s] %s (%s) %s %s: %s. Fix: %s", f.Severity, f.Rule, strings.Join(f.Mirrors, ", "),
		f.Type, f.Name, f.Message, f.Fix)
}

// Stack is the set of resources under evaluation, with lookups the rules share.
type Stack struct {
	Resources []Resource
	// secrets are the plaintext of every secret input, for the no-plaintext-secret rules.
	secrets []string
}

// NewStack indexes resources for evaluation.
func NewStack(resources []Resource) *Stack {
	s := &Stack{Resources: resources}
	for _, r := range resources {
		walk(resource.NewObjectProperty(r.Inputs), false, func(v resource.PropertyValue, secret bool) {
			if secret && v.IsString() && len(v.StringValue()) >= 4 {
				s.secrets = append(s.secrets, v.StringValue())
			}
		})
	}
	return s
}

// Evaluate runs every rule over every resource and returns the findings, in a stable order.
func Evaluate(resources []Resource) []Finding {
	s := NewStack(resources)
	var out []Finding
	for _, rule := range Rules {
		for _, r := range resources {
			if !slices.Contains(rule.Types, r.Type) {
				continue
			}
			for _, msg := range rule.Check(r, s) {
				out = append(out, Finding{
					Rule: rule.ID, Mirrors: rule.Mirrors, Severity: rule.Severity, Type: r.Type, Name: r.Name,
					URN: r.URN, Message: msg, Fix: fixFor(rule, r),
				})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return strings.Compare(a.Rule+a.URN+a.Message, b.Rule+b.URN+b.Message)
	})
	return out
}

// walk visits every leaf value, saying whether it sits inside a secret.
func walk(v resource.PropertyValue, secret bool, visit func(resource.PropertyValue, bool)) {
	switch {
	case v.IsSecret():
		walk(v.SecretValue().Element, true, visit)
	case v.IsObject():
		for _, x := range v.ObjectValue() {
			walk(x, secret, visit)
		}
	case v.IsArray():
		for _, x := range v.ArrayValue() {
			walk(x, secret, visit)
		}
	default:
		visit(v, secret)
	}
}

// Unknown stands for an input a preview cannot know yet, such as the ARN of a key that is yet to be
// created: it is set, so a rule that wants it set passes, and the update's own evaluation sees the value.
const Unknown = "(known after the update)"

// input reads an input by path, looking through secrets; an unknown value reads as Unknown.
func input(r Resource, path string) (resource.PropertyValue, bool) {
	v, ok := Lookup(r.Inputs, path)
	if ok && v.IsSecret() {
		v = v.SecretValue().Element
	}
	if ok && computed(v) {
		v = resource.NewProperty(Unknown)
	}
	return v, ok
}

// computed reports whether a value is not known yet (a preview's computed output).
func computed(v resource.PropertyValue) bool {
	return v.IsComputed() || v.IsOutput() && !v.OutputValue().Known
}

func str(r Resource, path string) string {
	if v, ok := input(r, path); ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(r Resource, path string) (float64, bool) {
	if v, ok := input(r, path); ok && v.IsNumber() {
		return v.NumberValue(), true
	}
	return 0, false
}

func boolean(r Resource, path string) bool {
	v, ok := input(r, path)
	return ok && v.IsBool() && v.BoolValue()
}

// environment is the appstack environment a resource was declared for, from its tags.
func environment(r Resource) string { return tagValue(r, "environment") }

// when returns msg if failed, for one-condition rules.
func when(failed bool, msg string, args ...any) []string {
	if failed {
		return []string{fmt.Sprintf(msg, args...)}
	}
	return nil
}

// Review evaluates the resources and sets the waived findings apart: a finding is open unless the stack waives
// its rule.
func Review(resources []Resource, waivers stacks.Waivers) (open, waived []Finding) {
	for _, f := range Evaluate(resources) {
		if w, ok := waivers.Find(f.Rule); ok {
			f.Waiver = w.Reason
			waived = append(waived, f)
		} else {
			open = append(open, f)
		}
	}
	return open, waived
}

// CheckWaivers returns a problem, naming its key, for each waiver of a rule that does not exist or that may not
// be waived (critical rules: shell ports, secrets in plain text, public repositories).
func CheckWaivers(waivers []stacks.Waiver) []string {
	var problems []string
	for i, w := range waivers {
		rule, ok := RuleByID(w.Rule)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s:waivers[%d].rule: %q is not a policy rule", stacks.Namespace,
				i, w.Rule))
		case rule.Severity == Critical:
			problems = append(problems, fmt.Sprintf("%s:waivers[%d].rule: %s (%s) is critical and cannot be waived",
				stacks.Namespace, i, w.Rule, rule.Title))
		}
	}
	return problems
}

// UnusedWaivers returns a problem, naming its key, for each waiver that accepts no finding of the stack: a
// waiver of a rule nothing fails is stale (the resource it excused is gone or fixed), and left in place it would
// silently accept the next finding of that rule. waived are the findings Review set apart.
func UnusedWaivers(waivers stacks.Waivers, waived []Finding) []string {
	var problems []string
	for i, w := range waivers {
		if slices.ContainsFunc(waived, func(f Finding) bool { return f.Rule == w.Rule }) {
			continue
		}
		if _, ok := RuleByID(w.Rule); !ok {
			continue // CheckWaivers reports it
		}
		problems = append(problems, fmt.Sprintf("%s:waivers[%d].rule: the waiver of %s matches nothing: no "+
			"resource of this stack fails the rule; remove the waiver", stacks.Namespace, i, w.Rule))
	}
	return problems
}

// RuleByID finds a rule.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// fixFor is the rule's fix, and for an adopted resource (pulumi import) how to reconcile the existing setting:
// the stack states what the resource has, so adopting it changes nothing unasked.
func fixFor(rule Rule, r Resource) string {
	if r.Import != "" && rule.AdoptedFix != "" {
		return rule.Fix + " (adopted " + r.Import + ": " + rule.AdoptedFix + ")"
	}
	return rule.Fix
}
