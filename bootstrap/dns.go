package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DNSKey is the bootstrap configuration of the DNS names each deploy role's stacks serve: per environment
// (production, staging, review) the public hosted zone and the names in it. A role gets Route 53 and ACM rights for
// exactly these names; an environment that is not configured gets none.
const DNSKey = "appstack-bootstrap:dns"

// DNSNames is one environment's part of DNSKey.
type DNSNames struct {
	// Zone is the public hosted zone the environment's stacks use (their appstack:domain). Required.
	Zone string `json:"zone"`
	// Names are the hostnames the environment's stacks serve, lower case and without a trailing dot. A `*` is
	// IAM's wildcard (any run of characters, dots included): `*.example.com` is every name under example.com.
	// Required for production and staging; review's default is ReviewNames(zone).
	Names []string `json:"names"`
}

// DNSConfig is DNSKey: the names of each deploying environment.
type DNSConfig struct {
	Production *DNSNames `json:"production"`
	Staging    *DNSNames `json:"staging"`
	Review     *DNSNames `json:"review"`
}

// DNSScope is what one deploy role may do in Route 53 and ACM: the hosted zones it may change and the name
// patterns of its records and certificates. The zero scope allows nothing.
type DNSScope struct {
	// ZoneIDs are the hosted zones whose records the role may change.
	ZoneIDs []string
	// Names are the hostname patterns of the role's stacks.
	Names []string
}

// Empty reports whether the scope allows nothing.
func (s DNSScope) Empty() bool { return len(s.ZoneIDs) == 0 || len(s.Names) == 0 }

// ValidationLabelLength is the length of the first label of an ACM DNS-validation record, `_` and 32 hexadecimal
// digits (`_a79865eb4cd1a6ab990a45779b4e0b96.example.com`: ACM API reference, DomainValidation.ResourceRecord).
const ValidationLabelLength = 33

// RecordNamePatterns are the record names a scope's stacks write, as route53:ChangeResourceRecordSetsNormalizedRecordNames
// holds them (lower case, no trailing dot: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html):
// each hostname's alias record and its certificate's validation record `_<32 hex digits>.<hostname>`. The
// validation label is matched by its length (`?` is any one character) rather than by `*`, which would also match
// `_x.<a name under the hostname>`: so an entry for the zone's apex never reaches the validation records of the
// other environments' names below it.
func (s DNSScope) RecordNamePatterns() []string {
	return append(slices.Clone(s.Names), s.ValidationNamePatterns()...)
}

// ValidationNamePatterns are the names of the certificates' validation records of a scope's hostnames, the only
// CNAME records its stacks write: a CNAME on a hostname, or on a name a `*` of it reaches (`pr-x._domainkey.<zone>`
// for `pr-*.<zone>`), would let a stack publish another domain's SPF or DKIM records under the zone's domain.
func (s DNSScope) ValidationNamePatterns() []string {
	var out []string
	for _, n := range s.Names {
		out = append(out, "_"+strings.Repeat("?", ValidationLabelLength-1)+"."+n)
	}
	return out
}

// ReviewNames are the names of the review stacks (pr-*) in zone, as the program names an ephemeral stack's
// hostnames (stacks.Config.Hostnames): `<stack>.<zone>` for a service on the apex, `<name>.<stack>.<zone>` for
// the others.
func ReviewNames(zone string) []string {
	stack := Specs[Review].Stacks
	return []string{stack + "." + zone, "*." + stack + "." + zone}
}

var (
	dnsLabelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	namePartRE  = regexp.MustCompile(`^[a-z0-9*]([a-z0-9*-]{0,61}[a-z0-9*])?$`)
	environment = []Role{Production, Staging, Review}
)

func validZone(z string) bool {
	labels := strings.Split(z, ".")
	if len(z) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !dnsLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

func validName(n string) bool {
	if len(n) > 253-ValidationLabelLength-1 {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if !namePartRE.MatchString(l) {
			return false
		}
	}
	return true
}

// ParseDNS reads DNSKey's value ("" when unset). Unknown keys are errors: a misspelled environment would
// otherwise silently leave its role without rights, or a misspelled field without its names.
func ParseDNS(raw string) (DNSConfig, error) {
	var c DNSConfig
	if strings.TrimSpace(raw) == "" {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w (want {production|staging|review: {zone: example.com, names: [...]}})",
			DNSKey, err)
	}
	return c, nil
}

// For returns an environment's configuration, nil when it has none.
func (c DNSConfig) For(r Role) *DNSNames {
	switch r {
	case Production:
		return c.Production
	case Staging:
		return c.Staging
	case Review:
		return c.Review
	}
	return nil
}

// NamesOf returns an environment's names, review's default applied.
func (c DNSConfig) NamesOf(r Role) []string {
	n := c.For(r)
	switch {
	case n == nil:
		return nil
	case len(n.Names) == 0 && r == Review && n.Zone != "":
		return ReviewNames(n.Zone)
	}
	return n.Names
}

// Validate checks every environment's zone and names, and that no role's record and certificate patterns can
// match a name another environment's stacks serve. It names the exact key of each problem.
func (c DNSConfig) Validate() error {
	var errs []error
	for _, r := range environment {
		n := c.For(r)
		if n == nil {
			continue
		}
		key := DNSKey + "." + string(r)
		if !validZone(n.Zone) {
			errs = append(errs, fmt.Errorf("%s.zone: %q is not a DNS name such as example.com (lower case, no "+
				"trailing dot)", key, n.Zone))
			continue
		}
		if len(n.Names) == 0 && r != Review {
			errs = append(errs, fmt.Errorf("%s.names: list the hostnames the %s stack serves (such as web.%s), "+
				"or *.%s for every name in the zone", key, r, n.Zone, n.Zone))
		}
		for i, name := range n.Names {
			switch {
			case !validName(name):
				errs = append(errs, fmt.Errorf("%s.names[%d]: %q is not a lower-case DNS name (letters, digits, -, "+
					". and the wildcard *; no trailing dot)", key, i, name))
			case name != n.Zone && !strings.HasSuffix(name, "."+n.Zone):
				errs = append(errs, fmt.Errorf("%s.names[%d]: %q is outside the zone %s (%s.zone)", key, i, name,
					n.Zone, key))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, a := range environment {
		for _, b := range environment {
			if a == b {
				continue
			}
			errs = append(errs, c.overlap(a, b)...)
		}
	}
	return errors.Join(errs...)
}

// overlap reports each of a's patterns that IAM would match against a name b's stacks serve: a's record names
// against b's hostnames and validation records, a's certificate names against b's hostnames.
func (c DNSConfig) overlap(a, b Role) []error {
	var errs []error
	an, bn := c.NamesOf(a), c.NamesOf(b)
	for i, p := range an {
		scope := DNSScope{Names: []string{p}}
		for j, q := range bn {
			host := servedNames(q)
			validation := append([]token{{lit: '_'}}, repeat(token{hex: true}, ValidationLabelLength-1)...)
			validation = append(validation, token{lit: '.'})
			validation = append(validation, host...)
			hit := false
			for _, pattern := range scope.RecordNamePatterns() {
				g := iamPattern(pattern)
				if intersects(g, host) || intersects(g, validation) {
					hit = true
				}
			}
			if hit {
				errs = append(errs, fmt.Errorf("%s: the %s role's name %q would let it change %s's name %q (%s): "+
					"no name may belong to two environments; list the other environment's hostnames exactly, or give "+
					"it its own zone", nameKey(c, a, i), a, p, b, q, nameKey(c, b, j)))
			}
		}
	}
	return errs
}

// nameKey is the configuration key of an environment's i-th name, or of its zone for review's default names.
func nameKey(c DNSConfig, r Role, i int) string {
	if len(c.For(r).Names) == 0 {
		return fmt.Sprintf("%s.%s.zone (the review stacks' names %v)", DNSKey, r, c.NamesOf(r))
	}
	return fmt.Sprintf("%s.%s.names[%d]", DNSKey, r, i)
}

// Scopes turns the configuration into each deploy role's scope, with each zone's ID from zoneID.
func (c DNSConfig) Scopes(zoneID func(zone string) (string, error)) (map[Role]DNSScope, error) {
	out := map[Role]DNSScope{}
	for _, r := range environment {
		n := c.For(r)
		if n == nil {
			continue
		}
		id, err := zoneID(n.Zone)
		if err != nil {
			return nil, fmt.Errorf("%s.%s.zone: no public Route 53 hosted zone %q in this account: %w", DNSKey, r,
				n.Zone, err)
		}
		out[r] = DNSScope{ZoneIDs: []string{id}, Names: c.NamesOf(r)}
	}
	return out, nil
}

// token is one position of a pattern over DNS names: a literal character, or a class of characters (any, a
// hostname's, one label's, hexadecimal) taken once or, with rep, any number of times.
type token struct {
	lit                   byte
	any, host, label, hex bool
	rep                   bool
}

func (t token) match(c byte) bool {
	isLabel := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	switch {
	case t.any:
		return true
	case t.host:
		return isLabel || c == '.'
	case t.label:
		return isLabel
	case t.hex:
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
	}
	return c == t.lit
}

func repeat(t token, n int) []token {
	out := make([]token, n)
	for i := range out {
		out[i] = t
	}
	return out
}

// iamPattern reads a pattern as IAM's StringLike does: `*` any run of characters, dots included, `?` any one.
func iamPattern(p string) []token {
	var out []token
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			out = append(out, token{any: true, rep: true})
		case '?':
			out = append(out, token{any: true})
		default:
			out = append(out, token{lit: p[i]})
		}
	}
	return out
}

// servedNames reads a configured name as the hostnames a stack may really serve with it: a leading `*` label is one
// or more labels (any name under the rest), a `*` inside a label part of that one label, and a hostname never
// holds `_`, which only validation records start with.
func servedNames(p string) []token {
	var out []token
	rest := p
	if strings.HasPrefix(p, "*.") {
		out = append(out, token{label: true}, token{host: true, rep: true})
		rest = p[1:]
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '*' {
			out = append(out, token{label: true, rep: true})
			continue
		}
		out = append(out, token{lit: rest[i]})
	}
	return out
}

// dnsAlphabet is every character a normalized record name holds besides escapes.
const dnsAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789-._"

// intersects reports whether some name matches both patterns: a search of the pair of positions the two can
// reach on the same input.
func intersects(a, b []token) bool {
	type state struct{ i, j int }
	seen := map[state]bool{}
	stack := []state{{0, 0}}
	seen[state{0, 0}] = true
	push := func(s state) {
		if !seen[s] {
			seen[s] = true
			stack = append(stack, s)
		}
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.i == len(a) && s.j == len(b) {
			return true
		}
		if s.i < len(a) && a[s.i].rep {
			push(state{s.i + 1, s.j})
		}
		if s.j < len(b) && b[s.j].rep {
			push(state{s.i, s.j + 1})
		}
		if s.i == len(a) || s.j == len(b) {
			continue
		}
		for k := 0; k < len(dnsAlphabet); k++ {
			c := dnsAlphabet[k]
			if !a[s.i].match(c) || !b[s.j].match(c) {
				continue
			}
			next := s
			if !a[s.i].rep {
				next.i++
			}
			if !b[s.j].rep {
				next.j++
			}
			push(next)
		}
	}
	return false
}
