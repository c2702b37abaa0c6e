package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
	"appstack/internal/offline"
	"appstack/internal/project"
	"appstack/stacks"
)

const (
	repo   = "acme/shop"
	repoID = "610101"
	region = "ap-southeast-1"
)

// sampleDNS is the sample account's names: production on the example.com zone's apex and two hostnames, staging
// and the review stacks in the delegated zone staging.example.com (review's default names, pr-*).
const sampleDNS = `{"production": {"zone": "example.com", "names": ["example.com", "web.example.com", "api.example.com"]},
	"staging": {"zone": "staging.example.com", "names": ["web.staging.example.com"]},
	"review": {"zone": "staging.example.com"}}`

// run evaluates the bootstrap offline with the sample account's names and cfg over them.
func run(t *testing.T, cfg map[string]string) (*offline.Result, error) {
	t.Helper()
	base := map[string]string{"aws:region": region, "appstack-bootstrap:githubRepository": repo,
		"appstack-bootstrap:githubRepositoryId": repoID, DNSKey: sampleDNS}
	for k, v := range cfg {
		base[k] = v
	}
	return offline.Run(Program, offline.Options{Project: "appstack-bootstrap", Stack: "main", Config: base})
}

// world is what the bootstrap registers, with its documents parsed, from one offline run.
type world struct {
	res       *offline.Result
	acct      Account
	oidcArn   string
	trust     map[Role]Document
	policy    map[Role]Document
	keyPolicy map[string]Document // by key ARN
	boundary  Document
	docs      []sized
}

// sized is a policy document as AWS receives it, with the size AWS accepts for its kind
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html: a role's inline policies 10,240
// characters together, a managed policy 6,144, whitespace not counted; a key policy 32 KB,
// https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html).
type sized struct {
	name, doc string
	limit     int
}

const (
	inlineLimit    = 10240
	managedLimit   = 6144
	keyPolicyLimit = 32768
)

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

func bootstrapWorld(t *testing.T) *world {
	t.Helper()
	worldOnce.Do(func() {
		res, err := run(t, nil)
		if err != nil {
			worldErr = err
			return
		}
		w := &world{res: res, trust: map[Role]Document{}, policy: map[Role]Document{}, keyPolicy: map[string]Document{}}
		str := func(r offline.Resource, path string) string {
			v, _ := offline.Lookup(r.Outputs, path)
			if v.IsString() {
				return v.StringValue()
			}
			return ""
		}
		parse := func(raw string) Document {
			d, err := parseDoc(raw)
			if err != nil && worldErr == nil {
				worldErr = err
			}
			return d
		}
		oidc, _ := res.Named("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github")
		w.oidcArn = str(oidc, "arn")
		bucket, _ := res.Named("aws:s3/bucket:Bucket", "state")
		w.acct = Account{Partition: "aws", ID: offline.Account, StateBucketArn: str(bucket, "arn"),
			SecretsKeyArns: map[string]string{}}
		for _, k := range res.OfType("aws:kms/key:Key") {
			w.keyPolicy[str(k, "arn")] = parse(str(k, "policy"))
			if k.Name == "state-key" {
				w.acct.StateKeyArn = str(k, "arn")
			} else {
				w.acct.SecretsKeyArns[strings.TrimPrefix(k.Name, "secrets-")] = str(k, "arn")
			}
		}
		for _, r := range Roles {
			role, _ := res.Named("aws:iam/role:Role", string(r))
			w.trust[r] = parse(str(role, "assumeRolePolicy"))
			// The inline policy and the managed policies attached to the role: IAM allows their union.
			pol, _ := res.Named("aws:iam/rolePolicy:RolePolicy", string(r)+"-permissions")
			merged := parse(str(pol, "policy"))
			w.docs = append(w.docs, sized{string(r) + " inline", str(pol, "policy"), inlineLimit})
			for _, managed := range DeployPolicies(Account{}, Specs[r].Stacks, DNSScope{}) {
				if m, ok := res.Named("aws:iam/policy:Policy", string(r)+"-"+managed.Name); ok {
					merged.Statement = append(merged.Statement, parse(str(m, "policy")).Statement...)
					w.docs = append(w.docs, sized{m.Name, str(m, "policy"), managedLimit})
				}
			}
			w.policy[r] = merged
		}
		b, _ := res.Named("aws:iam/policy:Policy", "host-boundary")
		w.boundary = parse(str(b, "policy"))
		w.docs = append(w.docs, sized{"host-boundary", str(b, "policy"), managedLimit})
		for _, k := range res.OfType("aws:kms/key:Key") {
			w.docs = append(w.docs, sized{k.Name + " key policy", str(k, "policy"), keyPolicyLimit})
		}
		theWorld = w
	})
	require.NoError(t, worldErr)
	return theWorld
}

// policies are what decides a call by a CI role: its inline policy and, for a KMS key, the key policy.
func (w *world) policies(r Role, resource string) Policies {
	return Policies{Identity: []Document{w.policy[r]}, Resource: w.keyPolicyOf(resource)}
}

// keyPolicyOf is the key policy of a KMS key the tests name: the bootstrap's own keys' policies, and for any other
// key (a stack's key) AWS's default key policy, which lets IAM policies decide
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html) and which components/secrets
// KeyPolicy starts with. nil for a resource that is not a KMS key.
func (w *world) keyPolicyOf(resource string) *Document {
	if kp, ok := w.keyPolicy[resource]; ok {
		return &kp
	}
	if isKMSKey(resource) {
		return ptr(defaultKeyPolicy(w.acct))
	}
	return nil
}

// defaultKeyPolicy is AWS's default key policy: the account, and through it IAM policies, decides.
func defaultKeyPolicy(a Account) Document {
	return doc(Statement{Sid: "AccountAdministersThroughIAM", Effect: "Allow",
		Principal: map[string][]string{"AWS": {"arn:" + a.Partition + ":iam::" + a.ID + ":root"}},
		Action:    list("kms:*"), Resource: list("*")})
}

func ctx(kv ...string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = append(out[kv[i]], kv[i+1])
	}
	return out
}

func TestEachRoleIsAssumedOnlyByItsOwnGitHubSubject(t *testing.T) {
	w := bootstrapWorld(t)
	// assume evaluates AssumeRoleWithWebIdentity against a trust policy: the role's resource policy, with the
	// web identity itself allowed to ask.
	assume := func(r Role, trust Document, provider, aud, sub string) Decision {
		c := map[string][]string{}
		if aud != "" {
			c[GitHubIssuer+":aud"] = []string{aud}
		}
		if sub != "" {
			c[GitHubIssuer+":sub"] = []string{sub}
		}
		asker := Document{Statement: []Statement{{Effect: "Allow", Action: list("sts:AssumeRoleWithWebIdentity"),
			Resource: list("*")}}}
		return Evaluate(Request{Principal: provider, Action: "sts:AssumeRoleWithWebIdentity",
			Resource: w.acct.RoleArn(r), Context: c}, Policies{Identity: []Document{asker}, Resource: &trust})
	}
	// The repository's customized subject: repo, repository_id, context, job_workflow_ref (SubjectClaims).
	sub := func(context, workflow string) string {
		return "repo:acme/shop:repository_id:610101:" + context + ":job_workflow_ref:acme/shop/.github/workflows/" + workflow
	}
	subjects := map[Role]string{
		PullRequestPreview: sub("pull_request", "preview.yml@refs/pull/7/merge"),
		Review:             sub("environment:review", "review-stack.yml@refs/pull/7/merge"),
		Staging:            sub("environment:staging", "deploy.yml@refs/heads/main"),
		ProductionPreview:  sub("environment:production-preview", "deploy.yml@refs/heads/main"),
		Production:         sub("environment:production", "deploy.yml@refs/heads/main"),
		Drift:              sub("environment:production-drift", "drift.yml@refs/heads/main"),
	}
	also := map[Role][]string{
		Review:  {sub("environment:review", "reap.yml@refs/heads/main"), sub("environment:review", "e2e.yml@refs/heads/fix-1")},
		Staging: {sub("environment:staging", "drift.yml@refs/heads/main")},
	}
	others := []string{"repo:acme/shop:ref:refs/heads/main",
		// GitHub's default subjects, which the roles trusted before the subject was customized.
		"repo:acme/shop:environment:production", "repo:acme/shop:pull_request", "repo:acme/shop:environment:production-preview",
		// Another repository id: the repository deleted and re-created under the same name.
		"repo:acme/shop:repository_id:999:environment:production:job_workflow_ref:acme/shop/.github/workflows/deploy.yml@refs/heads/main",
		// Another workflow file, or deploy.yml from a branch or a tag, in the production environment.
		sub("environment:production", "evil.yml@refs/heads/main"),
		sub("environment:production", "deploy.yml@refs/heads/feature"),
		sub("environment:production", "deploy.yml@refs/tags/main"),
		sub("environment:Production", "deploy.yml@refs/heads/main"),
		sub("environment:production-drift", "deploy.yml@refs/heads/main"),
		sub("pull_request", "review-stack.yml@refs/pull/7/merge"),
		sub("environment:review", "preview.yml@refs/pull/7/merge"),
		"repo:acme/other:repository_id:610101:environment:production:job_workflow_ref:acme/shop/.github/workflows/deploy.yml@refs/heads/main",
		sub("environment:production", "deploy.yml@refs/heads/main") + "x",
	}
	for _, r := range Roles {
		t.Run(string(r), func(t *testing.T) {
			trust := w.trust[r]
			require.Len(t, trust.Statement, 1)
			assert.Equal(t, Allowed, assume(r, trust, w.oidcArn, Audience, subjects[r]))
			for _, sub := range also[r] {
				assert.Equal(t, Allowed, assume(r, trust, w.oidcArn, Audience, sub), "subject %s", sub)
			}
			for other, sub := range subjects {
				if other != r {
					assert.NotEqual(t, Allowed, assume(r, trust, w.oidcArn, Audience, sub), "subject %s", sub)
				}
			}
			for _, sub := range others {
				assert.NotEqual(t, Allowed, assume(r, trust, w.oidcArn, Audience, sub), "subject %s", sub)
			}
			assert.NotEqual(t, Allowed, assume(r, trust, w.oidcArn, "", subjects[r]), "no audience")
			assert.NotEqual(t, Allowed, assume(r, trust, w.oidcArn, "sigstore", subjects[r]), "another audience")
			assert.NotEqual(t, Allowed, assume(r, trust, w.oidcArn, Audience, ""), "no subject")
			assert.NotEqual(t, Allowed, assume(r, trust, "arn:aws:iam::123456789012:oidc-provider/example.com",
				Audience, subjects[r]), "another identity provider")

			// The conditions are what keep the others out.
			op := "StringEquals"
			if _, like := trust.Statement[0].Condition["StringLike"]; like {
				op = "StringLike"
			}
			if r == Staging || r == ProductionPreview || r == Production || r == Drift {
				assert.Equal(t, "StringEquals", op, "the roles of main's environments match their subjects exactly")
			}
			noSub := Document{Statement: []Statement{dropCond(trust.Statement[0], op, GitHubIssuer+":sub")}}
			assert.Equal(t, Allowed, assume(r, noSub, w.oidcArn, Audience, others[0]),
				"without the subject condition another subject gets in")
			noAud := Document{Statement: []Statement{dropCond(trust.Statement[0], "StringEquals", GitHubIssuer+":aud")}}
			assert.Equal(t, Allowed, assume(r, noAud, w.oidcArn, "sigstore", subjects[r]),
				"without the audience condition another audience gets in")
		})
	}
}

func ptr[T any](v T) *T { return &v }

func dropCond(s Statement, op, key string) Statement {
	c := map[string]map[string][]string{}
	for o, kv := range s.Condition {
		c[o] = map[string][]string{}
		for k, v := range kv {
			if o != op || k != key {
				c[o][k] = v
			}
		}
		if len(c[o]) == 0 {
			delete(c, o)
		}
	}
	s.Condition = c
	return s
}

// mutation changes the documents the way a careless edit would: the property must then fail.
type mutation struct {
	what  string
	apply func(p *Policies)
}

func edit(doc *Document, sid string, f func(Statement) (Statement, bool)) bool {
	found := false
	var out []Statement
	for _, s := range doc.Statement {
		if s.Sid == sid {
			found = true
			if s2, keep := f(s); keep {
				out = append(out, s2)
			}
			continue
		}
		out = append(out, s)
	}
	doc.Statement = out
	return found
}

func withoutStatement(sid string) mutation {
	return mutation{"without statement " + sid, func(p *Policies) {
		for i := range p.Identity {
			d := cloneDoc(p.Identity[i])
			if edit(&d, sid, func(Statement) (Statement, bool) { return Statement{}, false }) {
				p.Identity[i] = d
			}
		}
		if p.Resource != nil {
			d := cloneDoc(*p.Resource)
			edit(&d, sid, func(Statement) (Statement, bool) { return Statement{}, false })
			p.Resource = &d
		}
		if p.Boundary != nil {
			d := cloneDoc(*p.Boundary)
			edit(&d, sid, func(Statement) (Statement, bool) { return Statement{}, false })
			p.Boundary = &d
		}
	}}
}

func withoutCondition(sid, op, key string) mutation {
	return mutation{"without the " + op + " " + key + " condition of " + sid, func(p *Policies) {
		f := func(s Statement) (Statement, bool) { return dropCond(s, op, key), true }
		for i := range p.Identity {
			d := cloneDoc(p.Identity[i])
			edit(&d, sid, f)
			p.Identity[i] = d
		}
		if p.Boundary != nil {
			d := cloneDoc(*p.Boundary)
			edit(&d, sid, f)
			p.Boundary = &d
		}
	}}
}

func withStatement(what string, s Statement) mutation {
	return mutation{what, func(p *Policies) {
		d := cloneDoc(p.Identity[0])
		d.Statement = append(d.Statement, s)
		p.Identity[0] = d
	}}
}

func cloneDoc(d Document) Document {
	raw, _ := json.Marshal(d)
	var out Document
	_ = json.Unmarshal(raw, &out)
	return out
}

// adminLayer is an identity policy that allows everything: a later, careless widening of a role's policy.
var adminLayer = Document{Statement: []Statement{{Effect: "Allow", Action: list("*"), Resource: list("*")}}}

// property is one thing a CI role can or cannot do, with the edit that must break it.
type property struct {
	name    string
	role    Role
	req     Request
	allowed bool
	// widened evaluates the role with adminLayer added: the property must hold through a key policy or an
	// explicit deny alone.
	widened bool
	// identityOnly puts AWS's default key policy in place of the key's own: the property must hold through the
	// role's own policy alone.
	identityOnly bool
	breaks       mutation
}

func (w *world) check(t *testing.T, p property) {
	t.Helper()
	req := p.req
	req.Principal = w.acct.RoleArn(p.role)
	pol := w.policies(p.role, req.Resource)
	if p.widened {
		pol.Identity = append(pol.Identity, adminLayer)
	}
	if p.identityOnly && isKMSKey(req.Resource) {
		pol.Resource = ptr(defaultKeyPolicy(w.acct))
	}
	got := Evaluate(req, pol)
	if p.allowed {
		assert.Equal(t, Allowed, got, "%s %s on %s", p.role, req.Action, req.Resource)
	} else {
		assert.NotEqual(t, Allowed, got, "%s %s on %s", p.role, req.Action, req.Resource)
	}
	if p.breaks.apply == nil {
		return
	}
	broken := Policies{Identity: append([]Document(nil), pol.Identity...), Resource: pol.Resource, Boundary: pol.Boundary}
	p.breaks.apply(&broken)
	after := Evaluate(req, broken)
	assert.NotEqual(t, got == Allowed, after == Allowed, "the property must fail %s", p.breaks.what)
}

func TestCIRolesCanDoWhatTheirEnvironmentNeedsAndNoMore(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	bucket := a.StateBucketArn
	stateKey := a.StateKeyArn
	key := a.SecretsKeyArns
	prodInstance := a.arn("ec2", region, "instance/i-0prod")
	viaS3 := ctx("kms:ViaService", "s3."+region+".amazonaws.com")
	boundary := a.BoundaryArn()
	hostRole := a.arn("iam", "", "role/appstack/app-identity-role-1234567")
	admin := "arn:aws:iam::aws:policy/AdministratorAccess"

	props := []property{
		// Environments stay apart by tag.
		{name: "the review role cannot terminate a production instance", role: Review,
			req:    Request{Action: "ec2:TerminateInstances", Resource: prodInstance, Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("Ec2ChangeOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the review role terminates its own review instances", role: Review, allowed: true,
			req:    Request{Action: "ec2:TerminateInstances", Resource: prodInstance, Context: ctx("aws:ResourceTag/stack", "pr-7")},
			breaks: withoutStatement("Ec2ChangeOwn")},
		{name: "the staging role cannot terminate a production instance", role: Staging,
			req:    Request{Action: "ec2:TerminateInstances", Resource: prodInstance, Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("Ec2ChangeOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the review role cannot launch an untagged instance", role: Review,
			req:    Request{Action: "ec2:RunInstances", Resource: a.arn("ec2", region, "instance/*")},
			breaks: withoutCondition("Ec2LaunchTagged", "StringLike", "aws:RequestTag/stack")},
		{name: "the review role cannot launch into production's security group", role: Review,
			req: Request{Action: "ec2:RunInstances", Resource: a.arn("ec2", region, "security-group/sg-1"),
				Context: ctx("aws:ResourceTag/stack", "production", "aws:RequestTag/stack", "pr-7")},
			breaks: withoutCondition("Ec2LaunchIntoOwnGroup", "StringLike", "aws:ResourceTag/stack")},
		{name: "the pull-request preview role lists staging's readiness signals (the attempt count)",
			role: PullRequestPreview, allowed: true,
			req: Request{Action: "ssm:GetParametersByPath",
				Resource: a.arn("ssm", region, "parameter/appstack/staging/app/ready")},
			breaks: withoutStatement("ReadySignals")},
		{name: "the pull-request preview role cannot list production's readiness signals",
			role: PullRequestPreview,
			req: Request{Action: "ssm:GetParametersByPath",
				Resource: a.arn("ssm", region, "parameter/appstack/production/app/ready")},
			breaks: mutation{"with the signals scoped to /appstack/*", scopeParams("ReadySignals")}},
		{name: "the production-preview role reads production's readiness signals", role: ProductionPreview,
			allowed: true,
			req: Request{Action: "ssm:GetParametersByPath",
				Resource: a.arn("ssm", region, "parameter/appstack/production/app/ready")},
			breaks: withoutStatement("ReadySignals")},
		{name: "the drift role refreshes production's secret parameters (the drift check)",
			role: Drift, allowed: true,
			req: Request{Action: "ssm:GetParameter",
				Resource: a.arn("ssm", region, "parameter/appstack/production/app/secrets/JWT_SECRET")},
			breaks: withoutStatement("RefreshSecretParameters")},
		{name: "the production-preview role cannot read production's secret parameters (only approved code may)",
			role: ProductionPreview,
			req: Request{Action: "ssm:GetParameter",
				Resource: a.arn("ssm", region, "parameter/appstack/production/app/secrets/JWT_SECRET")},
			breaks: withStatement("with the preview role refreshing, as it did", allow("RefreshSecretParameters",
				list("ssm:GetParameter"), list(a.arn("ssm", "*", "parameter/appstack/production/*"))))},
		{name: "the drift role decrypts with production's own stack key (the drift check)",
			role: Drift, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: a.arn("kms", region, "key/1234-stack"),
				Context: ctx("aws:ResourceTag/stack", "production", "aws:ResourceTag/managed-by", "appstack")},
			breaks: withoutStatement("RefreshStackKeys")},
		{name: "the drift role cannot decrypt with a key the bootstrap made for production",
			role: Drift,
			req: Request{Action: "kms:Decrypt", Resource: a.arn("kms", region, "key/1234-bootstrap"),
				Context: ctx("aws:ResourceTag/stack", "production", "aws:ResourceTag/managed-by", "appstack-bootstrap")},
			identityOnly: true,
			breaks:       withoutCondition("RefreshStackKeys", "StringEquals", "aws:ResourceTag/managed-by")},
		{name: "preview roles read the front door's log bucket configuration (a refresh)", role: PullRequestPreview,
			allowed: true,
			req: Request{Action: "s3:GetBucketPolicy",
				Resource: "arn:aws:s3:::appstack-staging-alb-logs-20260101000000000000000001"},
			breaks: withoutStatement("FrontDoorLogBucketsRead")},
		{name: "the drift role cannot decrypt with a staging stack key", role: Drift,
			req: Request{Action: "kms:Decrypt", Resource: a.arn("kms", region, "key/1234-stack"),
				Context: ctx("aws:ResourceTag/stack", "staging", "aws:ResourceTag/managed-by", "appstack")},
			breaks: withoutCondition("RefreshStackKeys", "StringLike", "aws:ResourceTag/stack")},
		{name: "the pull-request preview role cannot read staging's secret parameters", role: PullRequestPreview,
			req: Request{Action: "ssm:GetParameter",
				Resource: a.arn("ssm", region, "parameter/appstack/staging/app/secrets/JWT_SECRET")},
			breaks: mutation{"with the signals scoped to /appstack/*", scopeParams("ReadySignals")}},
		{name: "the pull-request preview role lists a repository's image tags (the image lookup)",
			role: PullRequestPreview, allowed: true,
			req:    Request{Action: "ecr:ListImages", Resource: a.arn("ecr", region, "repository/app-web-repo")},
			breaks: withoutStatement("ReadMetadata")},
		{name: "the review role cannot re-tag production's repository as its own", role: Review,
			req: Request{Action: "ecr:TagResource", Resource: a.arn("ecr", region, "repository/app-web-repo"),
				Context: ctx("aws:RequestTag/stack", "pr-7", "aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("TagOwnOrNew", "StringLikeIfExists", "aws:ResourceTag/stack")},
		{name: "the review role cannot delete production's table", role: Review,
			req: Request{Action: "dynamodb:DeleteTable", Resource: a.arn("dynamodb", region, "table/app-events"),
				Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("TablesOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the review role cannot read production's secret parameters", role: Review,
			req:    Request{Action: "ssm:GetParameter", Resource: a.arn("ssm", region, "parameter/appstack/production/app/secrets/JWT")},
			breaks: mutation{"with the parameters scoped to /appstack/*", scopeParams("StackParameters")}},
		{name: "the review role writes its own stacks' parameters", role: Review, allowed: true,
			req:    Request{Action: "ssm:PutParameter", Resource: a.arn("ssm", region, "parameter/appstack/pr-7/app/secrets/JWT")},
			breaks: withoutStatement("StackParameters")},
		{name: "alarms cannot terminate instances", role: Review,
			req: Request{Action: "cloudwatch:PutMetricAlarm", Resource: a.arn("cloudwatch", region, "alarm:x"),
				Context: map[string][]string{"aws:RequestTag/stack": {"pr-7"},
					"cloudwatch:AlarmActions": {"arn:aws:automate:" + region + ":ec2:terminate"}}},
			breaks: withoutCondition("AlarmsCreateTagged", "ForAllValues:StringLike", "cloudwatch:AlarmActions")},
		{name: "production's alarms recover and reboot", role: Production, allowed: true,
			req: Request{Action: "cloudwatch:PutMetricAlarm", Resource: a.arn("cloudwatch", region, "alarm:x"),
				Context: map[string][]string{"aws:RequestTag/stack": {"production"},
					"cloudwatch:AlarmActions": {"arn:aws:automate:" + region + ":ec2:recover", "arn:aws:automate:" + region + ":ec2:reboot"}}},
			breaks: withoutStatement("AlarmsCreateTagged")},

		// The deploy roles cannot make themselves admin.
		{name: "no role is created without the boundary", role: Production,
			req:    Request{Action: "iam:CreateRole", Resource: hostRole, Context: ctx("aws:RequestTag/stack", "production")},
			breaks: withoutCondition("CreateHostRolesWithinBoundary", "StringEquals", "iam:PermissionsBoundary")},
		{name: "no role is created with another boundary", role: Review,
			req: Request{Action: "iam:CreateRole", Resource: hostRole,
				Context: ctx("aws:RequestTag/stack", "pr-7", "iam:PermissionsBoundary", a.arn("iam", "", "policy/AdministratorAccess"))},
			breaks: withoutCondition("CreateHostRolesWithinBoundary", "StringEquals", "iam:PermissionsBoundary")},
		{name: "a host role is created inside the boundary", role: Review, allowed: true,
			req: Request{Action: "iam:CreateRole", Resource: hostRole,
				Context: ctx("aws:RequestTag/stack", "pr-7", "iam:PermissionsBoundary", boundary)},
			breaks: withoutStatement("CreateHostRolesWithinBoundary")},
		{name: "no role outside /appstack/ is created, even inside the boundary", role: Production,
			req: Request{Action: "iam:CreateRole", Resource: a.arn("iam", "", "role/admin"),
				Context: ctx("aws:RequestTag/stack", "production", "iam:PermissionsBoundary", boundary)},
			breaks: mutation{"with the role scope widened to every role", widen("CreateHostRolesWithinBoundary")}},
		{name: "no inline policy goes on a role without the boundary", role: Staging,
			req:    Request{Action: "iam:PutRolePolicy", Resource: hostRole, Context: ctx("aws:ResourceTag/stack", "staging")},
			breaks: withoutCondition("OwnHostRolesWithinBoundary", "StringEquals", "iam:PermissionsBoundary")},
		{name: "no inline policy goes on a CI role", role: Production,
			req: Request{Action: "iam:PutRolePolicy", Resource: a.RoleArn(Production),
				Context: ctx("aws:ResourceTag/stack", "production", "iam:PermissionsBoundary", boundary)},
			breaks: mutation{"with the role scope widened to every role", widen("OwnHostRolesWithinBoundary")}},
		{name: "AdministratorAccess is never attached", role: Production,
			req: Request{Action: "iam:AttachRolePolicy", Resource: hostRole,
				Context: ctx("aws:ResourceTag/stack", "production", "iam:PermissionsBoundary", boundary, "iam:PolicyARN", admin)},
			breaks: withoutCondition("AttachOnlySSMCore", "ArnEquals", "iam:PolicyARN")},
		{name: "AmazonSSMManagedInstanceCore is attached inside the boundary", role: Production, allowed: true,
			req: Request{Action: "iam:AttachRolePolicy", Resource: hostRole,
				Context: ctx("aws:ResourceTag/stack", "production", "iam:PermissionsBoundary", boundary, "iam:PolicyARN", SSMCorePolicyArn("aws"))},
			breaks: withoutStatement("AttachOnlySSMCore")},
		{name: "the boundary is never removed from a role", role: Production, widened: true,
			req:    Request{Action: "iam:DeleteRolePermissionsBoundary", Resource: hostRole},
			breaks: withoutStatement("NeverRemoveTheBoundary")},
		{name: "the boundary is never swapped for another", role: Production, widened: true,
			req: Request{Action: "iam:PutRolePermissionsBoundary", Resource: hostRole,
				Context: ctx("iam:PermissionsBoundary", admin)},
			breaks: withoutStatement("NeverSwapTheBoundary")},
		{name: "the boundary policy is never edited", role: Review, widened: true,
			req:    Request{Action: "iam:CreatePolicyVersion", Resource: boundary},
			breaks: withoutStatement("NeverEditTheBoundary")},
		{name: "host roles are passed to EC2 only", role: Staging,
			req: Request{Action: "iam:PassRole", Resource: hostRole,
				Context: ctx("iam:PassedToService", "lambda.amazonaws.com", "aws:ResourceTag/stack", "staging")},
			breaks: withoutCondition("PassOwnHostRolesToEC2Only", "StringEqualsIfExists", "iam:PassedToService")},
		{name: "the staging role may put its own host role into its instance profile (PassRole, no service named)",
			role: Staging, allowed: true,
			req: Request{Action: "iam:PassRole", Resource: hostRole,
				Context: ctx("aws:ResourceTag/stack", "staging")},
			breaks: withoutStatement("PassOwnHostRolesToEC2Only")},
		{name: "production's host role is never passed by the review role", role: Review,
			req: Request{Action: "iam:PassRole", Resource: hostRole,
				Context: ctx("iam:PassedToService", "ec2.amazonaws.com", "aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("PassOwnHostRolesToEC2Only", "StringLike", "aws:ResourceTag/stack")},
		{name: "a host role is never assumed by a CI role", role: Review, widened: true,
			req:    Request{Action: "sts:AssumeRole", Resource: hostRole},
			breaks: withoutStatement("NeverAssumeHostRoles")},
		{name: "no CI role runs commands on hosts", role: Production,
			req: Request{Action: "ssm:SendCommand", Resource: prodInstance},
			breaks: withStatement("with the old ssm:* on *", Statement{Sid: "AppServices", Effect: "Allow",
				Action: list("ssm:*"), Resource: list("*")})},
		{name: "no CI role opens a session on a host", role: Review,
			req: Request{Action: "ssm:StartSession", Resource: prodInstance},
			breaks: withStatement("with the old ssm:* on *", Statement{Sid: "AppServices", Effect: "Allow",
				Action: list("ssm:*"), Resource: list("*")})},
		{name: "no CI role creates another service's service-linked role", role: Production,
			req: Request{Action: "iam:CreateServiceLinkedRole",
				Resource: a.arn("iam", "", "role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents"),
				Context:  ctx("iam:AWSServiceName", "ssm.amazonaws.com")},
			breaks: withoutCondition("AlarmServiceLinkedRole", "StringEquals", "iam:AWSServiceName")},
		{name: "no CI role creates a service-linked role under another name", role: Review,
			req: Request{Action: "iam:CreateServiceLinkedRole",
				Resource: a.arn("iam", "", "role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"),
				Context:  ctx("iam:AWSServiceName", "events.amazonaws.com")},
			breaks: mutation{"with the role scope widened to every role", widen("AlarmServiceLinkedRole")}},
		{name: "deploy roles pass PutMetricAlarm's service-linked role check", role: Staging, allowed: true,
			req: Request{Action: "iam:CreateServiceLinkedRole",
				Resource: a.arn("iam", "", "role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents"),
				Context:  ctx("iam:AWSServiceName", "events.amazonaws.com")},
			breaks: withoutStatement("AlarmServiceLinkedRole")},
		{name: "preview roles create no role at all", role: ProductionPreview,
			req: Request{Action: "iam:CreateServiceLinkedRole",
				Resource: a.arn("iam", "", "role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents"),
				Context:  ctx("iam:AWSServiceName", "events.amazonaws.com")},
			breaks: withStatement("with the deploy role's grant", stmt(w.policy[Staging], "AlarmServiceLinkedRole"))},

		// Keys: the bootstrap's keys are only used, never administered, by CI.
		{name: "no CI role changes the state key's policy", role: Production, widened: true,
			req: Request{Action: "kms:PutKeyPolicy", Resource: stateKey}, breaks: withoutStatement("CIRolesOnlyUseTheKey")},
		{name: "no CI role schedules the state key's deletion", role: Production, widened: true,
			req: Request{Action: "kms:ScheduleKeyDeletion", Resource: stateKey}, breaks: withoutStatement("CIRolesOnlyUseTheKey")},
		{name: "no CI role disables production's secrets key", role: Production, widened: true,
			req: Request{Action: "kms:DisableKey", Resource: key["production"]}, breaks: withoutStatement("CIRolesOnlyUseTheKey")},
		{name: "no CI role creates a grant on production's secrets key", role: Production, widened: true,
			req:    Request{Action: "kms:CreateGrant", Resource: key["production"], Context: ctx("kms:GrantIsForAWSResource", "true")},
			breaks: withoutStatement("CIRolesOnlyUseTheKey")},
		{name: "no CI role re-encrypts production's secrets under another key", role: Production, widened: true,
			req: Request{Action: "kms:ReEncryptFrom", Resource: key["production"]}, breaks: withoutStatement("CIRolesOnlyUseTheKey")},
		{name: "no CI role re-tags a secrets key", role: Staging, widened: true,
			req:    Request{Action: "kms:TagResource", Resource: key["staging"], Context: ctx("aws:RequestTag/stack", "staging")},
			breaks: withoutStatement("CIRolesOnlyUseTheKey")},
		{name: "the staging role cannot change the staging key's policy through its stack-key grants", role: Staging,
			req: Request{Action: "kms:PutKeyPolicy", Resource: key["staging"],
				Context: ctx("aws:ResourceTag/stack", "staging", "aws:ResourceTag/managed-by", "appstack")},
			breaks: withoutStatement("CIRolesOnlyUseTheKey")},

		// Secrets keys: production's is out of reach of every pull-request credential.
		{name: "the pull-request preview role's policy decrypts with no key but staging's", role: PullRequestPreview,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, identityOnly: true,
			breaks: mutation{"with its decrypt grant widened to every key", widen("SecretsKeyDecrypt")}},
		{name: "... even if its policy were widened: production's key policy refuses it", role: PullRequestPreview, widened: true,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, breaks: withoutStatement("OnlyThisEnvironmentsRolesDecrypt")},
		{name: "the review role's policy decrypts with no key but review's and staging's", role: Review,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, identityOnly: true,
			breaks: mutation{"with its decrypt grant widened to every key", widen("SecretsKeyDecrypt")}},
		{name: "... even if its policy were widened", role: Review, widened: true,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, breaks: withoutStatement("OnlyThisEnvironmentsRolesDecrypt")},
		{name: "the staging role cannot decrypt with production's key, even widened", role: Staging, widened: true,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, breaks: withoutStatement("OnlyThisEnvironmentsRolesDecrypt")},
		{name: "the pull-request preview role cannot decrypt review stacks' secrets, even widened", role: PullRequestPreview, widened: true,
			req: Request{Action: "kms:Decrypt", Resource: key["review"]}, breaks: withoutStatement("OnlyThisEnvironmentsRolesDecrypt")},
		{name: "the pull-request preview role decrypts staging's secrets (its preview needs them)", role: PullRequestPreview, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: key["staging"]}, breaks: withoutStatement("SecretsKeyDecrypt")},
		{name: "the review role decrypts staging's secrets (a review stack copies staging's config)", role: Review, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: key["staging"]}, breaks: withoutStatement("SecretsKeyDecrypt")},
		{name: "the review role wraps new review stacks' data keys with the review key", role: Review, allowed: true,
			req: Request{Action: "kms:Encrypt", Resource: key["review"]}, breaks: withoutStatement("SecretsKeyEncrypt")},
		{name: "the production-preview role decrypts production's secrets", role: ProductionPreview, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, breaks: withoutStatement("SecretsKeyDecrypt")},
		{name: "the production role decrypts production's secrets", role: Production, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, breaks: withoutStatement("SecretsKeyDecrypt")},
		{name: "the drift role decrypts production's secrets (its refresh)", role: Drift, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: key["production"]}, breaks: withoutStatement("SecretsKeyDecrypt")},
		{name: "the state key decrypts only through S3", role: PullRequestPreview,
			req:    Request{Action: "kms:Decrypt", Resource: stateKey},
			breaks: withoutCondition("StateKeyThroughS3", "StringEquals", "kms:ViaService")},
		{name: "the state key decrypts state objects", role: PullRequestPreview, allowed: true,
			req: Request{Action: "kms:Decrypt", Resource: stateKey, Context: viaS3}, breaks: withoutStatement("StateKeyThroughS3")},

		// State: previews read and never write; deploy roles write their own stacks only.
		{name: "the pull-request preview role reads staging's state", role: PullRequestPreview, allowed: true,
			req: Request{Action: "s3:GetObject", Resource: bucket + "/.pulumi/stacks/appstack/staging.json"}, breaks: withoutStatement("ReadState")},
		{name: "the pull-request preview role cannot read production's state", role: PullRequestPreview,
			req:    Request{Action: "s3:GetObject", Resource: bucket + "/.pulumi/stacks/appstack/production.json"},
			breaks: mutation{"with state reads widened to the bucket", widen("ReadState")}},
		{name: "the pull-request preview role takes no lock", role: PullRequestPreview,
			req:    Request{Action: "s3:PutObject", Resource: bucket + "/.pulumi/locks/organization/appstack/staging/1.json"},
			breaks: mutation{"with the old lock-file statement", addOldLockStatement(bucket)}},
		{name: "the production-preview role reads production's state", role: ProductionPreview, allowed: true,
			req: Request{Action: "s3:GetObject", Resource: bucket + "/.pulumi/stacks/appstack/production.json.gz"}, breaks: withoutStatement("ReadState")},
		{name: "the production-preview role cannot write production's state", role: ProductionPreview,
			req:    Request{Action: "s3:PutObject", Resource: bucket + "/.pulumi/stacks/appstack/production.json"},
			breaks: withStatement("with the production role's state writes", stmt(w.policy[Production], "WriteOwnState"))},
		{name: "the production-preview role takes no lock", role: ProductionPreview,
			req:    Request{Action: "s3:PutObject", Resource: bucket + "/.pulumi/locks/organization/appstack/production/1.json"},
			breaks: withStatement("with the production role's state writes", stmt(w.policy[Production], "WriteOwnState"))},
		{name: "the production-preview role changes no resource", role: ProductionPreview,
			req:    Request{Action: "ec2:TerminateInstances", Resource: prodInstance, Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withStatement("with the production role's instance rights", stmt(w.policy[Production], "Ec2ChangeOwn"))},
		{name: "the review role locks and writes its review stacks' state", role: Review, allowed: true,
			req: Request{Action: "s3:PutObject", Resource: bucket + "/.pulumi/locks/organization/appstack/pr-7/1.json"}, breaks: withoutStatement("WriteOwnState")},
		{name: "the review role writes review stacks' history", role: Review, allowed: true,
			req: Request{Action: "s3:PutObject", Resource: bucket + "/.pulumi/history/appstack/pr-7/pr-7-1.history.json"}, breaks: withoutStatement("WriteOwnState")},
		{name: "the review role reads staging's state", role: Review, allowed: true,
			req: Request{Action: "s3:GetObject", Resource: bucket + "/.pulumi/stacks/appstack/staging.json"}, breaks: withoutStatement("ReadState")},
		{name: "the review role cannot write staging's state", role: Review,
			req:    Request{Action: "s3:PutObject", Resource: bucket + "/.pulumi/stacks/appstack/staging.json"},
			breaks: mutation{"with state writes widened to the bucket", widen("WriteOwnState")}},
		{name: "the review role cannot read production's state", role: Review,
			req:    Request{Action: "s3:GetObject", Resource: bucket + "/.pulumi/stacks/appstack/production.json"},
			breaks: mutation{"with state reads widened to the bucket", widen("ReadState")}},
		{name: "the staging role cannot delete production's lock", role: Staging,
			req:    Request{Action: "s3:DeleteObject", Resource: bucket + "/.pulumi/locks/organization/appstack/production/1.json"},
			breaks: mutation{"with state writes widened to the bucket", widen("WriteOwnState")}},
	}
	for _, p := range props {
		t.Run(p.name, func(t *testing.T) { w.check(t, p) })
	}
}

func stmt(d Document, sid string) Statement {
	for _, s := range d.Statement {
		if s.Sid == sid {
			return s
		}
	}
	panic("no statement " + sid)
}

func widen(sid string) func(p *Policies) {
	return func(p *Policies) {
		d := cloneDoc(p.Identity[0])
		edit(&d, sid, func(s Statement) (Statement, bool) {
			s.Resource = list("*")
			return s, true
		})
		p.Identity[0] = d
	}
}

func scopeParams(sid string) func(p *Policies) {
	return func(p *Policies) {
		d := cloneDoc(p.Identity[0])
		edit(&d, sid, func(s Statement) (Statement, bool) {
			s.Resource = list("arn:aws:ssm:*:" + offline.Account + ":parameter/appstack/*")
			return s, true
		})
		p.Identity[0] = d
	}
}

func addOldLockStatement(bucket string) func(p *Policies) {
	return withStatement("", Statement{Sid: "StateLock", Effect: "Allow", Action: list("s3:PutObject", "s3:DeleteObject"),
		Resource: list(bucket + "/.pulumi/locks/*")}).apply
}

// The boundary caps a host role whatever policy it is given, to its own stack's resources.
func TestTheBoundaryCapsEveryHostRole(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	host := a.arn("iam", "", "role/appstack/app-identity-role-1")
	check := func(t *testing.T, action, resource string, c map[string][]string, allowed bool, breaks mutation) {
		t.Helper()
		c["aws:PrincipalTag/stack"] = []string{"pr-7"}
		c["ec2:SourceInstanceARN"] = []string{hostInstance}
		req := Request{Principal: host, Action: action, Resource: resource, Context: c}
		pol := Policies{Identity: []Document{adminLayer}, Boundary: ptr(w.boundary), Resource: w.keyPolicyOf(resource)}
		got := Evaluate(req, pol)
		assert.Equal(t, allowed, got == Allowed, "%s on %s: %s", action, resource, got)
		if breaks.apply != nil {
			broken := Policies{Identity: []Document{adminLayer}, Boundary: ptr(cloneDoc(w.boundary)), Resource: pol.Resource}
			breaks.apply(&broken)
			assert.NotEqual(t, allowed, Evaluate(req, broken) == Allowed, "must fail %s", breaks.what)
		}
	}
	boundaryWithout := func(sid, op, key string) mutation {
		return mutation{"without the " + key + " condition of " + sid, func(p *Policies) {
			edit(p.Boundary, sid, func(s Statement) (Statement, bool) { return dropCond(s, op, key), true })
		}}
	}
	boundaryWidened := func(sid string) mutation {
		return mutation{"with " + sid + " on every resource", func(p *Policies) {
			edit(p.Boundary, sid, func(s Statement) (Statement, bool) { s.Resource = list("*"); return s, true })
		}}
	}
	t.Run("no IAM", func(t *testing.T) {
		check(t, "iam:CreateRole", a.arn("iam", "", "role/x"), ctx(), false,
			mutation{"with iam:* in the boundary", func(p *Policies) {
				p.Boundary.Statement = append(p.Boundary.Statement, Statement{Effect: "Allow", Action: list("iam:*"), Resource: list("*")})
			}})
	})
	t.Run("its own stack's readiness signals, listed", func(t *testing.T) {
		check(t, "ssm:GetParametersByPath", a.arn("ssm", region, "parameter/appstack/pr-7/app/ready"), ctx(), true,
			mutation{"without ReadySignalList", func(p *Policies) {
				edit(p.Boundary, "ReadySignalList", func(s Statement) (Statement, bool) { return s, false })
			}})
	})
	t.Run("not production's readiness signals", func(t *testing.T) {
		check(t, "ssm:GetParametersByPath", a.arn("ssm", region, "parameter/appstack/production/app/ready"), ctx(),
			false, boundaryWidened("ReadySignalList"))
	})
	t.Run("no state", func(t *testing.T) {
		check(t, "s3:GetObject", a.StateBucketArn+"/.pulumi/stacks/appstack/production.json", ctx(), false, mutation{})
	})
	t.Run("no secrets key of the bootstrap", func(t *testing.T) {
		check(t, "kms:Decrypt", a.SecretsKeyArns["production"],
			ctx("aws:ResourceTag/managed-by", "appstack-bootstrap", "aws:ResourceTag/stack", "pr-7"), false,
			boundaryWithout("StackKey", "StringEquals", "aws:ResourceTag/managed-by"))
	})
	t.Run("its own stack's key", func(t *testing.T) {
		check(t, "kms:Decrypt", a.arn("kms", region, "key/own"),
			ctx("aws:ResourceTag/managed-by", "appstack", "aws:ResourceTag/stack", "pr-7"), true, mutation{})
	})
	t.Run("not production's stack key", func(t *testing.T) {
		check(t, "kms:Decrypt", a.arn("kms", region, "key/prod"),
			ctx("aws:ResourceTag/managed-by", "appstack", "aws:ResourceTag/stack", "production"), false,
			boundaryWithout("StackKey", "StringEquals", "aws:ResourceTag/stack"))
	})
	t.Run("not production's tables", func(t *testing.T) {
		check(t, "dynamodb:Scan", a.arn("dynamodb", region, "table/app-events"),
			ctx("aws:ResourceTag/stack", "production"), false, boundaryWithout("Tables", "StringEquals", "aws:ResourceTag/stack"))
	})
	t.Run("not production's images", func(t *testing.T) {
		check(t, "ecr:BatchGetImage", a.arn("ecr", region, "repository/app-web"),
			ctx("aws:ResourceTag/stack", "production"), false, boundaryWithout("EcrPull", "StringEquals", "aws:ResourceTag/stack"))
	})
	t.Run("not production's readiness signal", func(t *testing.T) {
		check(t, "ssm:PutParameter", a.arn("ssm", region, "parameter/appstack/production/app/ready/i-1"), ctx(), false,
			boundaryWidened("ReadySignal"))
	})
	t.Run("its own readiness signal", func(t *testing.T) {
		check(t, "ssm:PutParameter", a.arn("ssm", region, "parameter/appstack/pr-7/app/ready/i-1"), ctx(), true, mutation{})
	})

	// What components/identity grants a host of stack pr-7, and AmazonSSMManagedInstanceCore, fit inside it.
	doc, err := identity.PolicyDocument(identity.Grants{
		RepositoryArns:    []string{a.arn("ecr", region, "repository/app-web")},
		TableArns:         []string{a.arn("dynamodb", region, "table/app-events")},
		ParameterArns:     []string{a.arn("ssm", region, "parameter/appstack/pr-7/app/secrets/JWT")},
		KmsKeyArn:         a.arn("kms", region, "key/own"),
		LogGroupArn:       a.arn("logs", region, "log-group:app-logs"),
		ReadyParameterArn: a.arn("ssm", region, "parameter/appstack/pr-7/app/ready/*"),
	})
	require.NoError(t, err)
	granted, err := parseDoc(doc)
	require.NoError(t, err)
	own := ctx("aws:ResourceTag/stack", "pr-7", "aws:ResourceTag/managed-by", "appstack", "aws:PrincipalTag/stack", "pr-7",
		"ec2:SourceInstanceARN", hostInstance)
	for _, s := range granted.Statement {
		for _, action := range s.Action {
			for _, pattern := range s.Resource {
				res, ok := grantedResource(action, pattern)
				if !ok {
					continue
				}
				got := Evaluate(Request{Principal: host, Action: action, Resource: res, Context: own},
					Policies{Identity: []Document{granted}, Boundary: ptr(w.boundary), Resource: w.keyPolicyOf(res)})
				assert.Equal(t, Allowed, got, "the boundary lets a host do %s on %s (%s)", action, res, s.Sid)
			}
		}
	}
	for _, action := range ssmManagedInstanceCore {
		resource := "*"
		if action == "ssm:GetParameter" || action == "ssm:GetParameters" {
			// The managed policy's parameter reads, within the stack's own path.
			resource = a.arn("ssm", region, "parameter/appstack/pr-7/app/secrets/JWT")
		}
		assert.Equal(t, Allowed, Evaluate(Request{Principal: host, Action: action, Resource: resource, Context: own},
			Policies{Identity: []Document{adminLayer}, Boundary: ptr(w.boundary)}), action)
	}
}

// grantedResource is a resource a granted action is asked about: a pattern's wildcard stands for one resource, and
// "*" (an action that names no resource) stays. CloudWatch Logs authorizes stream actions on the stream
// (log-group:<group>:log-stream:<stream>) and DescribeLogStreams on the group; other pairs AWS never asks
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
func grantedResource(action, pattern string) (string, bool) {
	if pattern == "*" {
		return pattern, true
	}
	if strings.HasPrefix(action, "logs:") {
		stream := action != "logs:DescribeLogStreams"
		if strings.HasSuffix(pattern, ":*") != stream {
			return "", false
		}
		if !stream {
			return pattern, true
		}
		return strings.TrimSuffix(pattern, "*") + "log-stream:i-1", true
	}
	return strings.ReplaceAll(pattern, "*", "i-1"), true
}

// longScope is a deploy role's DNS scope with more names than a stack usually serves.
var longScope = DNSScope{ZoneIDs: []string{"Z0123456789ABCDEFGHIJ"}, Names: []string{
	"www.shop.example-company-name.com", "api.shop.example-company-name.com", "admin.shop.example-company-name.com",
	"static.shop.example-company-name.com", "grafana.shop.example-company-name.com",
	"status.shop.example-company-name.com", "hooks.shop.example-company-name.com", "*.pr-*.shop.example-company-name.com",
}}

func TestEveryDocumentFitsAWSsSizeLimit(t *testing.T) {
	w := bootstrapWorld(t)
	require.NotEmpty(t, w.docs)
	managed := 0
	for _, d := range w.docs {
		n := len(strings.Join(strings.Fields(d.doc), ""))
		assert.Positive(t, n, d.name)
		assert.LessOrEqual(t, n, d.limit, "%s: %d characters, AWS accepts %d", d.name, n, d.limit)
		t.Logf("%s: %d of %d characters", d.name, n, d.limit)
		if d.limit == managedLimit {
			managed++
		}
	}
	// One inline policy per role; a deploy role's resource rights do not fit in it (the limit is real).
	for _, r := range Roles {
		inline := RolePolicy(w.acct, r, region)
		if Specs[r].Deploys {
			for _, m := range DeployPolicies(w.acct, Specs[r].Stacks, longScope) {
				inline.Statement = append(inline.Statement, m.Doc.Statement...)
			}
			j, err := inline.JSON()
			require.NoError(t, err)
			assert.Greater(t, len(j), inlineLimit, "%s: all in one inline policy would be refused", r)
		}
	}
	assert.Equal(t, 1+3*6, managed, "the boundary and six managed policies per deploy role")
	// IAM attaches at most ten managed policies to a role by default
	// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
	for _, r := range Roles {
		assert.LessOrEqual(t, len(DeployPolicies(w.acct, Specs[r].Stacks, longScope)), 10, r)
	}
	// The documents stay within the limits in the longest partition too.
	long := w.acct
	long.Partition, long.StateBucketArn = "aws-us-gov", long.StateBucketArn+"-with-a-much-longer-name"
	for _, r := range Roles {
		j, _ := RolePolicy(long, r, "us-gov-west-1").JSON()
		assert.LessOrEqual(t, len(j), inlineLimit, r)
		if Specs[r].Deploys {
			for _, m := range DeployPolicies(long, Specs[r].Stacks, longScope) {
				j, _ := m.Doc.JSON()
				assert.LessOrEqual(t, len(j), managedLimit, "%s %s", r, m.Name)
			}
		}
	}
}

func TestKeysAreSeparatePerEnvironmentProtectedAndRotated(t *testing.T) {
	w := bootstrapWorld(t)
	keys := w.res.OfType("aws:kms/key:Key")
	require.Len(t, keys, 4)
	names := []string{}
	for _, k := range keys {
		names = append(names, k.Name)
		assert.True(t, k.Protect, k.Name)
		rot, _ := offline.Lookup(k.Inputs, "enableKeyRotation")
		assert.True(t, rot.BoolValue(), k.Name)
	}
	assert.ElementsMatch(t, []string{"state-key", "secrets-review", "secrets-staging", "secrets-production"}, names)
	aliases := map[string]bool{}
	for _, al := range w.res.OfType("aws:kms/alias:Alias") {
		v, _ := offline.Lookup(al.Inputs, "name")
		aliases[v.StringValue()] = true
	}
	for _, env := range SecretsKeys {
		assert.True(t, aliases["alias/appstack-secrets-"+env], env)
		assert.Equal(t, "awskms://alias/appstack-secrets-"+env+"?region=ap-southeast-1", w.res.Exports[env+"SecretsProvider"])
	}
	assert.True(t, aliases["alias/appstack-state-main"])
}

func TestOutputsAreWhatTheWorkflowsNeed(t *testing.T) {
	w := bootstrapWorld(t)
	for out, want := range map[string]string{
		"previewRoleArn":           "arn:aws:iam::123456789012:role/appstack-ci-pr-preview",
		"reviewRoleArn":            "arn:aws:iam::123456789012:role/appstack-ci-review",
		"stagingRoleArn":           "arn:aws:iam::123456789012:role/appstack-ci-staging",
		"productionPreviewRoleArn": "arn:aws:iam::123456789012:role/appstack-ci-production-preview",
		"productionRoleArn":        "arn:aws:iam::123456789012:role/appstack-ci-production",
		"driftRoleArn":             "arn:aws:iam::123456789012:role/appstack-ci-drift",
		"region":                   region,
	} {
		assert.Equal(t, want, w.res.Exports[out], out)
	}
	assert.Contains(t, w.res.Exports["stateBucket"], "s3://state-")
	// The boundary's ARN is the one appstack stacks derive by default.
	b, ok := w.res.Named("aws:iam/policy:Policy", "host-boundary")
	require.True(t, ok)
	name, _ := offline.Lookup(b.Inputs, "name")
	path, _ := offline.Lookup(b.Inputs, "path")
	derived, err := identity.DefaultBoundaryArn("arn:aws:logs:ap-southeast-1:123456789012:log-group:app-logs")
	require.NoError(t, err)
	assert.Equal(t, derived, "arn:aws:iam::123456789012:policy"+path.StringValue()+name.StringValue())
	assert.Equal(t, derived, w.acct.BoundaryArn())
	for _, r := range Roles {
		role, _ := w.res.Named("aws:iam/role:Role", string(r))
		if p, ok := offline.Lookup(role.Inputs, "path"); ok && p.IsString() {
			assert.False(t, strings.HasPrefix(p.StringValue(), identity.Path), "CI roles are outside the path deploy roles manage")
		}
		arn := role.Outputs["arn"]
		assert.NotContains(t, arn.StringValue(), "role"+identity.Path, "CI roles are outside the path deploy roles manage")
	}
}

func TestStateBucketIsVersionedEncryptedPrivateAndTLSOnly(t *testing.T) {
	res, err := run(t, nil)
	require.NoError(t, err)
	bucket := res.OfType("aws:s3/bucket:Bucket")
	require.Len(t, bucket, 1)
	assert.True(t, bucket[0].Protect, "the state bucket is protected")

	v := res.OfType("aws:s3/bucketVersioning:BucketVersioning")
	require.Len(t, v, 1)
	status, _ := offline.Lookup(v[0].Inputs, "versioningConfiguration.status")
	assert.Equal(t, "Enabled", status.StringValue())

	enc := res.OfType("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
	require.Len(t, enc, 1)
	algo, _ := offline.Lookup(enc[0].Inputs, "rules[0].applyServerSideEncryptionByDefault.sseAlgorithm")
	assert.Equal(t, "aws:kms", algo.StringValue())
	keyID, _ := offline.Lookup(enc[0].Inputs, "rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId")
	state, _ := res.Named("aws:kms/key:Key", "state-key")
	assert.Equal(t, state.Outputs["arn"].StringValue(), keyID.StringValue(), "the state key, not a secrets key")

	pab := res.OfType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	require.Len(t, pab, 1)
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		b, _ := offline.Lookup(pab[0].Inputs, k)
		assert.True(t, b.BoolValue(), k)
	}
	pol := res.OfType("aws:s3/bucketPolicy:BucketPolicy")
	require.Len(t, pol, 1)
	doc, _ := offline.Lookup(pol[0].Inputs, "policy")
	assert.Contains(t, doc.StringValue(), `"aws:SecureTransport":"false"`)
	assert.Contains(t, doc.StringValue(), `"Effect":"Deny"`)
}

func TestRepositoryAndRegionAreRequired(t *testing.T) {
	_, err := run(t, map[string]string{"appstack-bootstrap:githubRepository": "shop"})
	assert.ErrorContains(t, err, `appstack-bootstrap:githubRepository: "shop": want owner/name`)
	for _, id := range []string{"", "acme/shop", "0", "12 34"} {
		_, err = run(t, map[string]string{"appstack-bootstrap:githubRepositoryId": id})
		assert.ErrorContains(t, err, fmt.Sprintf("appstack-bootstrap:githubRepositoryId: %q: want the repository's numeric id", id))
	}
	_, err = run(t, map[string]string{"aws:region": ""})
	assert.ErrorContains(t, err, "aws:region: not set")
	_, err = run(t, map[string]string{"appstack-bootstrap:githubOwnerId": "acme"})
	assert.ErrorContains(t, err, `appstack-bootstrap:githubOwnerId: "acme": want the repository owner's numeric id`)
}

// GitHub's immutable subject form (repo:OWNER@OWNERID/NAME@REPOID:…) is trusted, exactly, only once the owner's
// id is configured; the name form stays trusted, so either form works during the change.
func TestTheImmutableSubjectFormIsTrustedOnlyWithTheOwnersID(t *testing.T) {
	immutable := func(owner string) string {
		return "repo:acme@" + owner + "/shop@610101:repository_id:610101:environment:production:job_workflow_ref:" +
			"acme/shop/.github/workflows/deploy.yml@refs/heads/main"
	}
	named := "repo:acme/shop:repository_id:610101:environment:production:job_workflow_ref:" +
		"acme/shop/.github/workflows/deploy.yml@refs/heads/main"
	assume := func(trust Document, sub string) Decision {
		asker := Document{Statement: []Statement{{Effect: "Allow", Action: list("sts:AssumeRoleWithWebIdentity"),
			Resource: list("*")}}}
		return Evaluate(Request{Principal: "arn:aws:iam::123456789012:oidc-provider/" + GitHubIssuer,
			Action: "sts:AssumeRoleWithWebIdentity", Resource: "arn:aws:iam::123456789012:role/x",
			Context: ctx(GitHubIssuer+":aud", Audience, GitHubIssuer+":sub", sub)},
			Policies{Identity: []Document{asker}, Resource: &trust})
	}
	provider := "arn:aws:iam::123456789012:oidc-provider/" + GitHubIssuer
	without := TrustPolicy(provider, Subjects(repo, repoID, "", Production))
	with := TrustPolicy(provider, Subjects(repo, repoID, "77", Production))
	assert.Equal(t, Allowed, assume(without, named))
	assert.NotEqual(t, Allowed, assume(without, immutable("77")), "no owner id configured")
	assert.Equal(t, Allowed, assume(with, named))
	assert.Equal(t, Allowed, assume(with, immutable("77")))
	assert.NotEqual(t, Allowed, assume(with, immutable("78")), "another owner's id")
	assert.NotEqual(t, Allowed, assume(with, strings.Replace(immutable("77"), "shop@610101", "shop@999", 1)),
		"another repository's id")
	assert.Equal(t, "StringEquals", func() string {
		for op := range with.Statement[0].Condition {
			if _, ok := with.Statement[0].Condition[op][GitHubIssuer+":sub"]; ok {
				return op
			}
		}
		return ""
	}(), "matched exactly")

	// The program passes the configured id through to every role.
	res, err := run(t, map[string]string{"appstack-bootstrap:githubOwnerId": "77"})
	require.NoError(t, err)
	found := false
	for _, role := range res.OfType("aws:iam/role:Role") {
		if v, ok := offline.Lookup(role.Inputs, "assumeRolePolicy"); ok && strings.Contains(v.StringValue(), immutable("77")) {
			found = true
		}
	}
	assert.True(t, found, "the production role trusts the immutable form")
}

// The stack key's policy names the role that deploys the stack also when a preview role previews it: the
// program's map of preview roles to deploy roles is the bootstrap's own.
func TestTheProgramKnowsWhichRoleDeploysWhatAPreviewRolePreviews(t *testing.T) {
	assert.Equal(t, DeployRoles(), stacks.CIDeployRoles)
	assert.Equal(t, RoleName(Production), DeployRoles()[RoleName(ProductionPreview)])
	assert.Equal(t, RoleName(Staging), DeployRoles()[RoleName(PullRequestPreview)])
}

// The roles trust the customized subject only: the README's command sets exactly SubjectClaims.
func TestTheReadmeCustomizesTheSubjectTheRolesTrust(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(project.Root(), "README.md"))
	require.NoError(t, err)
	body, err := json.Marshal(struct {
		UseDefault bool     `json:"use_default"`
		Claims     []string `json:"include_claim_keys"`
	}{false, SubjectClaims})
	require.NoError(t, err)
	assert.Contains(t, string(raw), "gh api -X PUT repos/OWNER/REPO/actions/oidc/customization/sub --input - <<<'"+
		string(body)+"'")
	assert.Contains(t, string(raw), `appstack-bootstrap:githubRepositoryId "$(gh api repos/OWNER/REPO --jq .id)"`)
	// The subject the trust policies expect is built from the same claims, in the same order.
	assert.Equal(t, "repo:acme/shop:repository_id:610101:environment:production:job_workflow_ref:"+
		"acme/shop/.github/workflows/deploy.yml@refs/heads/main", Subjects(repo, repoID, "", Production)[0])
	assert.Equal(t, []string{"repo", "repository_id", "context", "job_workflow_ref"}, SubjectClaims)
}

// Production's secrets are reached only by roles of main's own workflow files, each trusted by exact subjects:
// the production preview and the deploy (deploy.yml, behind the production reviewers) and the drift check
// (drift.yml, running the commit production runs).
func TestOnlyMainsWorkflowsReachProductionsSecrets(t *testing.T) {
	var readers []Role
	for _, r := range Roles {
		if slices.Contains(Specs[r].Decrypts, "production") || Specs[r].Stacks == "production" {
			readers = append(readers, r)
			for _, wf := range Specs[r].Workflows {
				assert.True(t, strings.HasSuffix(wf, "@refs/heads/main") && !strings.ContainsAny(wf, "*?"),
					"%s: %s is not a workflow file of main", r, wf)
			}
		}
	}
	assert.ElementsMatch(t, []Role{ProductionPreview, Production, Drift}, readers)
	assert.False(t, Specs[ProductionPreview].Refreshes, "the preview reads no secret parameter")
	assert.Equal(t, []string{"drift.yml@refs/heads/main"}, Specs[Drift].Workflows)
}
