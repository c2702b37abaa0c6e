package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra"
	"appstack/testing/offlinetest"
)

// dnsCall is one Route 53 or ACM call a deploy of a stack makes for its front door.
type dnsCall struct {
	what string
	req  Request
}

// frontDoorCalls runs the appstack program offline for stack and returns the calls its deploy makes in Route 53
// and ACM: ChangeResourceRecordSets (UPSERT) of each record, with the condition keys Route 53 sets (the name
// normalized: lower case, no trailing dot), and RequestCertificate of each certificate, tagged with the stack.
func frontDoorCalls(t *testing.T, stack string, cfg map[string]string) []dnsCall {
	t.Helper()
	res, err := offlinetest.RunStack(t, infra.Program, stack, cfg)
	require.NoError(t, err)
	var calls []dnsCall
	for _, r := range res.OfType("aws:route53/record:Record") {
		name := strings.ToLower(strings.TrimSuffix(offlinetest.Str(t, r, "name"), "."))
		calls = append(calls, dnsCall{what: "record " + name, req: Request{Action: "route53:ChangeResourceRecordSets",
			Resource: "arn:aws:route53:::hostedzone/" + offlinetest.Str(t, r, "zoneId"),
			Context: ctx("route53:ChangeResourceRecordSetsNormalizedRecordNames", name,
				"route53:ChangeResourceRecordSetsRecordTypes", offlinetest.Str(t, r, "type"),
				"route53:ChangeResourceRecordSetsActions", "UPSERT")}})
	}
	for _, c := range res.OfType("aws:acm/certificate:Certificate") {
		name := offlinetest.Str(t, c, "domainName")
		calls = append(calls, dnsCall{what: "certificate " + name, req: Request{Action: "acm:RequestCertificate",
			Resource: "*", Context: ctx("acm:DomainNames", name, "aws:RequestTag/stack", stack)}})
	}
	require.NotEmpty(t, calls)
	return calls
}

// The sample account of sampleDNS, as the program deploys it: production serves the example stack's names in
// example.com, staging and the review stacks are in staging.example.com.
func sampleStacks(t *testing.T) map[Role]struct {
	stack string
	cfg   map[string]string
} {
	staging := maps.Clone(offlinetest.StackConfig(t, "staging", nil).Config)
	staging["appstack:domain"] = "staging.example.com"
	review := maps.Clone(staging)
	review["appstack:environment"] = "ephemeral"
	review["appstack:expiresAt"] = "2030-01-02T03:04:05Z"
	production := maps.Clone(offlinetest.StackConfig(t, "example", nil).Config)
	return map[Role]struct {
		stack string
		cfg   map[string]string
	}{
		Production: {"production", production},
		Staging:    {"staging", staging},
		Review:     {"pr-7", review},
	}
}

// Each deploy role makes every Route 53 and ACM call its own stacks' deploy makes, and none of another
// environment's: a review stack cannot point production's or staging's hostname at its own load balancer, nor get
// a certificate for it; nor can staging take production's.
func TestEachDeployRoleWritesItsOwnStacksNamesAndNoOthers(t *testing.T) {
	w := bootstrapWorld(t)
	calls := map[Role][]dnsCall{}
	for r, s := range sampleStacks(t) {
		calls[r] = frontDoorCalls(t, s.stack, s.cfg)
	}
	for _, r := range []Role{Production, Staging, Review} {
		for owner, cs := range calls {
			for _, c := range cs {
				req := c.req
				req.Principal = w.acct.RoleArn(r)
				if req.Action == "acm:RequestCertificate" {
					// The attacker's certificate carries the attacker's own stack tag.
					req.Context = maps.Clone(req.Context)
					req.Context["aws:RequestTag/stack"] = []string{strings.ReplaceAll(Specs[r].Stacks, "*", "7")}
				}
				got := Evaluate(req, w.policies(r, req.Resource))
				if owner == r {
					assert.Equal(t, Allowed, got, "the %s role deploys its own stack's %s", r, c.what)
				} else {
					assert.NotEqual(t, Allowed, got, "the %s role must not write %s's %s", r, owner, c.what)
				}
			}
		}
	}
	// The calls are the program's: a production hostname and a review stack's are among them.
	var names []string
	for _, c := range append(calls[Production], calls[Review]...) {
		names = append(names, c.what)
	}
	assert.Contains(t, names, "record web.example.com")
	assert.Contains(t, names, "certificate web.example.com")
	assert.Contains(t, names, "record web.pr-7.staging.example.com")
}
