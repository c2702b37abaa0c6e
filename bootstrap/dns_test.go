package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zoneOf is the hosted zone a deploy role may change records in.
func zoneOf(t *testing.T, w *world, r Role) string {
	t.Helper()
	s := stmt(w.policy[r], "DnsOwnRecords")
	require.Len(t, s.Resource, 1)
	return s.Resource[0]
}

// change is a ChangeResourceRecordSets request in zone whose changes are of these records (name, type pairs).
func change(zone, action string, records ...string) Request {
	c := ctx()
	for i := 0; i+1 < len(records); i += 2 {
		c["route53:ChangeResourceRecordSetsNormalizedRecordNames"] = append(
			c["route53:ChangeResourceRecordSetsNormalizedRecordNames"], records[i])
		c["route53:ChangeResourceRecordSetsRecordTypes"] = append(c["route53:ChangeResourceRecordSetsRecordTypes"],
			records[i+1])
	}
	if action != "" {
		c["route53:ChangeResourceRecordSetsActions"] = []string{action}
	}
	return Request{Action: "route53:ChangeResourceRecordSets", Resource: zone, Context: c}
}

// validation is the name of the ACM validation record of hostname.
func validation(hostname string) string { return "_a79865eb4cd1a6ab990a45779b4e0b96." + hostname }

// Each deploy role changes only the A records of its own names and the CNAME records of their certificates' validation,
// in its own zone, and requests certificates only for its own names; each property fails when the statement or
// condition that makes it hold is taken away.
func TestDeployRolesChangeOnlyTheirOwnDNSNames(t *testing.T) {
	w := bootstrapWorld(t)
	prodZone, stagingZone := zoneOf(t, w, Production), zoneOf(t, w, Staging)
	require.NotEqual(t, prodZone, stagingZone)
	assert.Equal(t, stagingZone, zoneOf(t, w, Review), "the review stacks use staging's zone")
	const names = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
	cert := func(stack string, domains ...string) Request {
		c := ctx("aws:RequestTag/stack", stack)
		if len(domains) > 0 {
			// A request that names no domain carries no acm:DomainNames at all.
			c["acm:DomainNames"] = domains
		}
		return Request{Action: "acm:RequestCertificate", Resource: "*", Context: c}
	}
	for _, p := range []property{
		// Records.
		{name: "the review role points its own stack's hostname at its load balancer", role: Review, allowed: true,
			req:    change(stagingZone, "CREATE", "web.pr-7.staging.example.com", "A"),
			breaks: withoutStatement("DnsOwnRecords")},
		{name: "the review role writes its own certificate's validation record", role: Review, allowed: true,
			req:    change(stagingZone, "UPSERT", validation("web.pr-7.staging.example.com"), "CNAME"),
			breaks: withoutStatement("DnsValidation")},
		{name: "the review role serves a service on its stack's own name", role: Review, allowed: true,
			req:    change(stagingZone, "DELETE", "pr-7.staging.example.com", "A"),
			breaks: withoutStatement("DnsOwnRecords")},
		{name: "the review role cannot point staging's hostname at its load balancer", role: Review,
			req:    change(stagingZone, "UPSERT", "web.staging.example.com", "A"),
			breaks: withoutCondition("DnsOwnRecords", "ForAllValues:StringLike", names)},
		{name: "the review role cannot point production's hostname at its load balancer", role: Review,
			req:    change(prodZone, "UPSERT", "web.example.com", "A"),
			breaks: mutation{"with every zone and name", all(widen("DnsOwnRecords"), dropping("DnsOwnRecords", "ForAllValues:StringLike", names))}},
		{name: "nor production's name in staging's zone (a zone may hold any name)", role: Review,
			req:    change(stagingZone, "UPSERT", "web.example.com", "A"),
			breaks: withoutCondition("DnsOwnRecords", "ForAllValues:StringLike", names)},
		{name: "nor hide production's name among its own in one request", role: Review,
			req: change(stagingZone, "UPSERT", "web.pr-7.staging.example.com", "A",
				"web.staging.example.com", "A"),
			breaks: withoutCondition("DnsOwnRecords", "ForAllValues:StringLike", names)},
		{name: "nor write a staging certificate's validation record", role: Review,
			req:    change(stagingZone, "DELETE", validation("web.staging.example.com"), "CNAME"),
			breaks: withoutCondition("DnsValidation", "ForAllValues:StringLike", names)},
		// A CNAME is only ever a validation record: not DKIM under a name a `*` reaches, nor a hostname.
		{name: "the review role cannot publish a DKIM key under the zone's domain", role: Review,
			req: change(stagingZone, "CREATE", "pr-x._domainkey.staging.example.com", "CNAME"),
			breaks: mutation{"with CNAME records on its names and no service-label deny",
				all(withTypes("DnsOwnRecords", "CNAME"), withoutStatement("DnsNoServiceLabels").apply)}},
		{name: "the review role cannot CNAME its own hostname to another domain", role: Review,
			req: change(stagingZone, "CREATE", "web.pr-7.staging.example.com", "CNAME"),
			breaks: mutation{"with CNAME records on its names and no service-label deny",
				all(withTypes("DnsOwnRecords", "CNAME"), withoutStatement("DnsNoServiceLabels").apply)}},
		{name: "the review role changes no record of another zone, even under its own names", role: Review,
			req:    change(prodZone, "UPSERT", "web.pr-7.staging.example.com", "A"),
			breaks: mutation{"with the zone scope widened", widen("DnsOwnRecords")}},
		{name: "a request that names no record is refused", role: Review,
			req:    change(stagingZone, "UPSERT"),
			breaks: withoutCondition("DnsOwnRecords", "Null", names)},
		{name: "the staging role points its own hostname at its load balancer", role: Staging, allowed: true,
			req:    change(stagingZone, "UPSERT", "web.staging.example.com", "A"),
			breaks: withoutStatement("DnsOwnRecords")},
		{name: "the staging role cannot take a review stack's hostname", role: Staging,
			req:    change(stagingZone, "UPSERT", "web.pr-7.staging.example.com", "A"),
			breaks: withoutCondition("DnsOwnRecords", "ForAllValues:StringLike", names)},
		{name: "the staging role cannot point production's hostname at its load balancer", role: Staging,
			req:    change(prodZone, "UPSERT", "web.example.com", "A"),
			breaks: mutation{"with every zone and name", all(widen("DnsOwnRecords"), dropping("DnsOwnRecords", "ForAllValues:StringLike", names))}},
		{name: "the production role writes its apex", role: Production, allowed: true,
			req:    change(prodZone, "UPSERT", "example.com", "A"),
			breaks: withoutStatement("DnsOwnRecords")},
		{name: "the production role writes its apex's validation record", role: Production, allowed: true,
			req:    change(prodZone, "UPSERT", validation("example.com"), "CNAME"),
			breaks: withoutStatement("DnsValidation")},
		// IAM's `?` matches a dot: the validation pattern's 32 characters could hold shorter labels.
		{name: "the production role cannot take a name under its apex it does not serve", role: Production,
			req: change(prodZone, "UPSERT", "_a79865eb4cd1a6ab9.staging.example.com", "CNAME"),
			breaks: mutation{"with any name and no service-label deny", all(dropping("DnsValidation", "ForAllValues:StringLike", names),
				withoutStatement("DnsNoServiceLabels").apply)}},
		{name: "the production role cannot answer a CA's DNS-01 check for a name it does not serve", role: Production,
			req:    change(prodZone, "UPSERT", "_acme-challenge.mail-0123456789ab.example.com", "CNAME"),
			breaks: withoutStatement("DnsNoServiceLabels")},
		{name: "the production role cannot publish a DKIM key in 32 characters", role: Production,
			req:    change(prodZone, "UPSERT", "_abcdefghijklmnopqrstu._domainkey.example.com", "CNAME"),
			breaks: withoutStatement("DnsNoServiceLabels")},
		{name: "the review role cannot publish a DKIM key behind a validation label", role: Review,
			req:    change(stagingZone, "UPSERT", "_0123456789abcdef0123456789abcdef.pr-x._domainkey.staging.example.com", "CNAME"),
			breaks: withoutStatement("DnsNoServiceLabels")},
		{name: "no deploy role changes a zone's NS or MX records", role: Production,
			req:    change(prodZone, "UPSERT", "example.com", "NS"),
			breaks: withoutCondition("DnsOwnRecords", "ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes")},
		{name: "preview roles change no record", role: ProductionPreview,
			req:    change(prodZone, "UPSERT", "web.example.com", "A"),
			breaks: withStatement("with the deploy role's grant", stmt(w.policy[Production], "DnsOwnRecords"))},

		// Certificates.
		{name: "the review role requests a certificate for its own stack's hostname", role: Review, allowed: true,
			req:    cert("pr-7", "web.pr-7.staging.example.com"),
			breaks: withoutStatement("CertificatesRequestTagged")},
		{name: "the review role cannot request a certificate for production's hostname", role: Review,
			req:    cert("pr-7", "web.example.com"),
			breaks: withoutCondition("CertificatesRequestTagged", "ForAllValues:StringLike", "acm:DomainNames")},
		{name: "nor add production's hostname to its own certificate", role: Review,
			req:    cert("pr-7", "web.pr-7.staging.example.com", "web.example.com"),
			breaks: withoutCondition("CertificatesRequestTagged", "ForAllValues:StringLike", "acm:DomainNames")},
		{name: "the staging role cannot request a certificate for production's hostname", role: Staging,
			req:    cert("staging", "api.example.com"),
			breaks: withoutCondition("CertificatesRequestTagged", "ForAllValues:StringLike", "acm:DomainNames")},
		{name: "a certificate request that names no domain is refused", role: Staging,
			req:    cert("staging"),
			breaks: withoutCondition("CertificatesRequestTagged", "Null", "acm:DomainNames")},
	} {
		t.Run(p.name, func(t *testing.T) { w.check(t, p) })
	}
}

// withTypes adds record types to a statement of the role's policy.
func withTypes(sid string, types ...string) func(p *Policies) {
	return func(p *Policies) {
		for i := range p.Identity {
			d := cloneDoc(p.Identity[i])
			edit(&d, sid, func(s Statement) (Statement, bool) {
				return s.when("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes", types...), true
			})
			p.Identity[i] = d
		}
	}
}

// dropping removes a condition from a statement of the role's policy.
func dropping(sid, op, key string) func(p *Policies) {
	return withoutCondition(sid, op, key).apply
}

// all applies several edits.
func all(edits ...func(p *Policies)) func(p *Policies) {
	return func(p *Policies) {
		for _, e := range edits {
			e(p)
		}
	}
}

// Without names in appstack-bootstrap:dns a deploy role may change no record and request no certificate.
func TestADeployRoleWithoutNamesGetsNoDNSOrCertificateRights(t *testing.T) {
	res, err := run(t, map[string]string{DNSKey: `{"production": {"zone": "example.com", "names": ["www.example.com"]}}`})
	require.NoError(t, err)
	for _, r := range []Role{Staging, Review} {
		for _, m := range DeployPolicies(Account{}, Specs[r].Stacks, DNSScope{}) {
			pol, ok := res.Named("aws:iam/policy:Policy", string(r)+"-"+m.Name)
			require.True(t, ok)
			doc := mustDoc(t, pol.Outputs["policy"].StringValue())
			for _, req := range []Request{
				change("arn:aws:route53:::hostedzone/Z1", "UPSERT", "web.staging.example.com", "A"),
				{Action: "acm:RequestCertificate", Resource: "*", Context: ctx("aws:RequestTag/stack", "staging",
					"acm:DomainNames", "web.staging.example.com")},
			} {
				assert.NotEqual(t, Allowed, Evaluate(req, Policies{Identity: []Document{doc}}), "%s %s", r, req.Action)
			}
			assert.NotContains(t, pol.Outputs["policy"].StringValue(), "route53:ChangeResourceRecordSets", r)
		}
	}
	// The production role, configured, keeps its rights.
	pol, ok := res.Named("aws:iam/policy:Policy", "production-frontdoor")
	require.True(t, ok)
	assert.Contains(t, pol.Outputs["policy"].StringValue(), `"www.example.com"`)
}

// Bad names fail the bootstrap before it registers anything, naming the key; so does a name two environments
// could both write.
func TestTheDNSNamesAreCheckedNamingTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, dns string
		want      []string
	}{
		{"an unknown environment", `{"prod": {"zone": "example.com", "names": ["www.example.com"]}}`,
			[]string{`appstack-bootstrap:dns: json: unknown field "prod"`}},
		{"an unknown field", `{"production": {"zone": "example.com", "name": ["www.example.com"]}}`,
			[]string{`unknown field "name"`}},
		{"a zone that is no DNS name", `{"production": {"zone": "Example.com.", "names": ["www.example.com"]}}`,
			[]string{`appstack-bootstrap:dns.production.zone: "Example.com." is not a DNS name`}},
		{"production without names", `{"production": {"zone": "example.com"}}`,
			[]string{"appstack-bootstrap:dns.production.names: list the hostnames"}},
		{"a name outside its zone", `{"staging": {"zone": "staging.example.com", "names": ["web.example.com"]}}`,
			[]string{`appstack-bootstrap:dns.staging.names[0]: "web.example.com" is outside the zone staging.example.com`}},
		{"a name with a trailing dot", `{"staging": {"zone": "example.com", "names": ["web.example.com."]}}`,
			[]string{`appstack-bootstrap:dns.staging.names[0]: "web.example.com." is not a lower-case DNS name`}},
		{"review stacks under production's wildcard", `{"production": {"zone": "example.com", "names": ["*.example.com"]},
			"review": {"zone": "example.com"}}`,
			[]string{`appstack-bootstrap:dns.production.names[0]: the production role's name "*.example.com" would let it ` +
				`change review's name "pr-*.example.com" (appstack-bootstrap:dns.review.zone`}},
		{"a review pattern that matches a production hostname", `{"production": {"zone": "example.com",
			"names": ["web.pr-1.example.com"]}, "review": {"zone": "example.com"}}`,
			[]string{`appstack-bootstrap:dns.review.zone (the review stacks' names [pr-*.example.com *.pr-*.example.com]): ` +
				`the review role's name "*.pr-*.example.com" would let it change production's name "web.pr-1.example.com" ` +
				`(appstack-bootstrap:dns.production.names[0])`}},
		{"staging's wildcard over the review stacks' names", `{"staging": {"zone": "staging.example.com",
			"names": ["*.staging.example.com"]}, "review": {"zone": "staging.example.com"}}`,
			[]string{`appstack-bootstrap:dns.staging.names[0]: the staging role's name "*.staging.example.com" would let ` +
				`it change review's name`}},
		{"a review name that is staging's", `{"staging": {"zone": "example.com", "names": ["web.example.com"]},
			"review": {"zone": "example.com", "names": ["*.example.com"]}}`,
			[]string{`appstack-bootstrap:dns.review.names[0]: the review role's name "*.example.com" would let it ` +
				`change staging's name "web.example.com" (appstack-bootstrap:dns.staging.names[0])`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, map[string]string{DNSKey: tc.dns})
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
			if res != nil {
				assert.Empty(t, res.Resources, "nothing is registered")
			}
		})
	}
	// The sample account's names, and one zone shared by all three environments pass.
	for _, dns := range []string{sampleDNS,
		`{"production": {"zone": "example.com", "names": ["example.com", "www.example.com"]},
		  "staging": {"zone": "example.com", "names": ["web.staging.example.com"]},
		  "review": {"zone": "example.com"}}`,
		`{"production": {"zone": "example.com", "names": ["web.example.com"]},
		  "staging": {"zone": "example.com", "names": ["web.staging.example.com"]}}`,
	} {
		_, err := run(t, map[string]string{DNSKey: dns})
		assert.NoError(t, err, dns)
	}
}

// A zone the account does not hold fails the bootstrap naming the key.
func TestADNSZoneTheAccountLacksFailsNamingTheKey(t *testing.T) {
	c, err := ParseDNS(`{"staging": {"zone": "staging.example.com", "names": ["web.staging.example.com"]}}`)
	require.NoError(t, err)
	_, err = c.Scopes(func(string) (string, error) { return "", assert.AnError })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `appstack-bootstrap:dns.staging.zone: no public Route 53 hosted zone `+
		`"staging.example.com" in this account`)
}

// The overlap check reads patterns as IAM does (a `*` crosses dots) and names as stacks serve them.
func TestNamePatternsIntersectAsIAMReadsThem(t *testing.T) {
	for _, tc := range []struct {
		pattern, served string
		want            bool
	}{
		{"*.example.com", "web.staging.example.com", true},
		{"*.pr-*.example.com", "web.example.com", false},
		{"*.pr-*.example.com", "web.pr-1.example.com", true},
		{"pr-*.example.com", "pr-1.example.com", true},
		{"pr-*.example.com", "web.example.com", false},
		{"web.example.com", "web.example.com", true},
		{"web.example.com", "*.example.com", true},
		{"_" + strings.Repeat("?", 32) + ".example.com", "web.staging.example.com", false},
	} {
		assert.Equal(t, tc.want, intersects(iamPattern(tc.pattern), servedNames(tc.served)), "%s ∩ %s", tc.pattern,
			tc.served)
	}
}
