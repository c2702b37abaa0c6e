package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// This file is a small IAM policy evaluator for the policy tests: enough of AWS's evaluation logic
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html) to ask "may this
// principal do this action on this resource with this request context?" of the documents the bootstrap writes.
// It knows Allow and Deny (an explicit deny wins), Action and NotAction, action wildcards (case-insensitive)
// and resource wildcards, Principal, policy variables (${key}), and the condition operators the documents use:
// String{Equals,NotEquals,Like,NotLike}, Arn{Equals,NotEquals,Like,NotLike} (per ARN segment), Bool, Null, the
// IfExists suffix and the ForAllValues/ForAnyValue set operators. A condition key missing from the request
// does not match, except for negated operators and IfExists, which match
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

// Request is one API call.
type Request struct {
	// Principal is the caller's ARN (a role's ARN, as aws:PrincipalArn gives it), or for a web-identity
	// federation the OIDC provider's ARN.
	Principal string
	Action    string
	Resource  string
	// Context holds the condition keys of the request; multi-valued keys (cloudwatch:AlarmActions) hold
	// several values. aws:PrincipalArn is filled from Principal.
	Context map[string][]string
}

// Decision is the outcome of an evaluation.
type Decision string

// The three outcomes.
const (
	Allowed      Decision = "allowed"
	ImplicitDeny Decision = "implicitly denied"
	ExplicitDeny Decision = "explicitly denied"
)

// Policies are the documents that decide one request: the caller's identity policies, its permissions
// boundary (optional), and the resource's policy (optional, except for a KMS key, which always has one). As for
// KMS keys, a resource policy must allow the request too; its account-root principal stands for every principal
// of the account.
type Policies struct {
	Identity []Document
	Boundary *Document
	Resource *Document
}

func parseDoc(raw string) (Document, error) {
	var d struct {
		Version   string
		Statement []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return Document{}, err
	}
	out := Document{Version: d.Version}
	for _, st := range d.Statement {
		var s Statement
		for k, v := range st {
			var err error
			switch k {
			case "Sid":
				err = json.Unmarshal(v, &s.Sid)
			case "Effect":
				err = json.Unmarshal(v, &s.Effect)
			case "Action":
				s.Action, err = stringOrList(v)
			case "NotAction":
				s.NotAction, err = stringOrList(v)
			case "Resource":
				s.Resource, err = stringOrList(v)
			case "Principal":
				s.Principal, err = principal(v)
			case "Condition":
				var c map[string]map[string]json.RawMessage
				if err = json.Unmarshal(v, &c); err == nil {
					s.Condition = map[string]map[string][]string{}
					for op, kv := range c {
						s.Condition[op] = map[string][]string{}
						for key, raw := range kv {
							if s.Condition[op][key], err = stringOrList(raw); err != nil {
								return Document{}, err
							}
						}
					}
				}
			default:
				err = fmt.Errorf("statement element %q is not supported", k)
			}
			if err != nil {
				return Document{}, err
			}
		}
		out.Statement = append(out.Statement, s)
	}
	return out, nil
}

func stringOrList(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	err := json.Unmarshal(raw, &many)
	return many, err
}

func principal(raw json.RawMessage) (map[string][]string, error) {
	var star string
	if err := json.Unmarshal(raw, &star); err == nil {
		return map[string][]string{"AWS": {star}}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for k, v := range m {
		l, err := stringOrList(v)
		if err != nil {
			return nil, err
		}
		out[k] = l
	}
	return out, nil
}

// Evaluate decides a request. Every decision is also recorded for the cross-check with an evaluator the project
// did not write (iamsim_test.go), which fails the package's tests when the two disagree.
func Evaluate(req Request, p Policies) Decision {
	c := map[string][]string{}
	for k, v := range req.Context {
		c[k] = slices.Clone(v)
	}
	if _, ok := c["aws:PrincipalArn"]; !ok && req.Principal != "" {
		c["aws:PrincipalArn"] = []string{req.Principal}
	}
	req.Context = c
	d := decide(req, p)
	crossCheck.record(req, p, d)
	return d
}

func decide(req Request, p Policies) Decision {
	// Every KMS key has a key policy, and IAM policies grant nothing on a key unless its key policy allows the
	// account (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html): a key without one is
	// out of reach.
	identity, boundary, resource := false, p.Boundary == nil, p.Resource == nil && !isKMSKey(req.Resource)
	for _, d := range p.Identity {
		for _, s := range d.Statement {
			if s.applies(req, false) {
				if s.Effect == "Deny" {
					return ExplicitDeny
				}
				identity = true
			}
		}
	}
	if p.Boundary != nil {
		for _, s := range p.Boundary.Statement {
			if s.applies(req, false) {
				if s.Effect == "Deny" {
					return ExplicitDeny
				}
				boundary = true
			}
		}
	}
	if p.Resource != nil {
		for _, s := range p.Resource.Statement {
			if s.applies(req, true) {
				if s.Effect == "Deny" {
					return ExplicitDeny
				}
				resource = true
			}
		}
	}
	if identity && boundary && resource {
		return Allowed
	}
	return ImplicitDeny
}

func isKMSKey(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[2] == "kms" && strings.HasPrefix(parts[5], "key/")
}

// applies says whether the statement matches the request (its effect aside).
func (s Statement) applies(req Request, resourcePolicy bool) bool {
	if resourcePolicy && !principalMatches(s.Principal, req.Principal) {
		return false
	}
	switch {
	case len(s.Action) > 0:
		if !slices.ContainsFunc(s.Action, func(p string) bool { return glob(p, req.Action, true) }) {
			return false
		}
	case len(s.NotAction) > 0:
		if slices.ContainsFunc(s.NotAction, func(p string) bool { return glob(p, req.Action, true) }) {
			return false
		}
	default:
		return false
	}
	if len(s.Resource) > 0 && !slices.ContainsFunc(s.Resource, func(p string) bool {
		p, ok := substitute(p, req.Context)
		return ok && glob(p, req.Resource, false)
	}) {
		return false
	}
	for op, keys := range s.Condition {
		for key, values := range keys {
			if !condition(op, req.Context[key], values, req.Context) {
				return false
			}
		}
	}
	return true
}

func principalMatches(p map[string][]string, caller string) bool {
	for kind, values := range p {
		for _, v := range values {
			switch {
			case v == caller:
				return true
			case kind == "AWS" && v == "*":
				return true
			case kind == "AWS" && strings.HasSuffix(v, ":root") && sameAccount(v, caller):
				return true
			}
		}
	}
	return false
}

func sameAccount(a, b string) bool {
	pa, pb := strings.Split(a, ":"), strings.Split(b, ":")
	return len(pa) > 4 && len(pb) > 4 && pa[4] == pb[4] && pa[1] == pb[1]
}

var variableRE = regexp.MustCompile(`\$\{([^}]+)\}`)

// substitute replaces policy variables; a variable the request does not carry leaves the value unusable.
func substitute(v string, ctx map[string][]string) (string, bool) {
	ok := true
	out := variableRE.ReplaceAllStringFunc(v, func(m string) string {
		vals := ctx[m[2:len(m)-1]]
		if len(vals) != 1 {
			ok = false
			return ""
		}
		return vals[0]
	})
	return out, ok
}

// condition evaluates one operator over one key.
func condition(op string, got, want []string, ctx map[string][]string) bool {
	if op == "Null" {
		// "true": the key is absent from the request; "false": it is there, whatever its value.
		return slices.ContainsFunc(want, func(w string) bool { return (w == "true") == (len(got) == 0) })
	}
	set := ""
	if before, after, ok := strings.Cut(op, ":"); ok {
		set, op = before, after
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	if len(got) == 0 {
		switch {
		case set == "ForAllValues":
			return true
		case set == "ForAnyValue":
			return false
		case ifExists:
			return true
		}
		return strings.Contains(op, "Not")
	}
	one := func(g string) bool {
		negated := strings.Contains(op, "Not")
		base := strings.Replace(op, "Not", "", 1)
		matched := slices.ContainsFunc(want, func(w string) bool {
			w, ok := substitute(w, ctx)
			if !ok {
				return false
			}
			switch base {
			case "StringEquals", "Bool":
				return g == w
			case "StringEqualsIgnoreCase":
				return strings.EqualFold(g, w)
			case "StringLike":
				return glob(w, g, false)
			case "ArnEquals", "ArnLike":
				return arnMatches(w, g)
			}
			panic("condition operator " + op + " is not supported by the test evaluator")
		})
		// A negated operator with several values holds when the key matches none of them.
		return matched != negated
	}
	switch set {
	case "ForAllValues":
		for _, g := range got {
			if !one(g) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		return slices.ContainsFunc(got, one)
	case "":
		// A single-valued key.
		return one(got[0])
	}
	panic("set operator " + set + " is not supported by the test evaluator")
}

func arnMatches(pattern, arn string) bool {
	p, a := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(p) != 6 || len(a) != 6 {
		return false
	}
	for i := range p {
		if !glob(p[i], a[i], false) {
			return false
		}
	}
	return true
}

// glob matches * (any run of characters) and ? (one character).
func glob(pattern, s string, foldCase bool) bool {
	var re strings.Builder
	re.WriteString("^")
	if foldCase {
		re.WriteString("(?i)")
	}
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}
