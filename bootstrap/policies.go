package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"appstack/components/identity"
)

// GitHubIssuer is GitHub Actions' OIDC token issuer.
const GitHubIssuer = "token.actions.githubusercontent.com"

// Audience is the audience configure-aws-credentials asks GitHub's token for.
const Audience = "sts.amazonaws.com"

// Project is the Pulumi project of the appstack stacks whose state, parameters and roles CI manages.
const Project = "appstack"

// CIRolePrefix starts the name of every role the workflows assume. Key policies refuse administrative calls by
// any role whose name starts with it, and the deploy roles manage IAM only under identity.Path, which these
// roles are not under: no CI role can edit itself or another CI role.
const CIRolePrefix = "appstack-ci-"

// CIPolicyPath is the IAM path of the CI roles' managed policies.
const CIPolicyPath = "/appstack-ci/"

// Role is one of the roles the workflows assume.
type Role string

// The CI roles, one per GitHub environment plus the pull-request preview role.
const (
	// Drift refreshes production for the daily drift check (GitHub environment `production-drift`, main only).
	Drift Role = "drift"
	// PullRequestPreview runs `pulumi preview` of staging for pull requests from this repository.
	PullRequestPreview Role = "pr-preview"
	// Review deploys and destroys the pr-* review stacks (GitHub environment `review`).
	Review Role = "review"
	// Staging deploys the staging stack (GitHub environment `staging`, main only).
	Staging Role = "staging"
	// ProductionPreview previews production once a production approver let the commit read production's
	// secrets (GitHub environment `production-preview`, the production reviewers).
	ProductionPreview Role = "production-preview"
	// Production deploys production (GitHub environment `production`, main only, reviewers).
	Production Role = "production"
)

// Roles lists every CI role.
var Roles = []Role{PullRequestPreview, Review, Staging, ProductionPreview, Production, Drift}

// SecretsKeys names the per-environment keys that encrypt the stacks' secrets (the secrets providers).
var SecretsKeys = []string{"review", "staging", "production"}

// Spec is what one role may do.
type Spec struct {
	// Context is the OIDC subject's context claim: the job's environment (environment:staging) or pull_request.
	Context string
	// Workflows are the workflow files whose jobs may assume the role, each with the ref it runs from, as the
	// job_workflow_ref claim ends after OWNER/REPO/.github/workflows/ (deploy.yml@refs/heads/main). A * stands
	// for a pull request's number (refs/pull/*/merge) or a branch.
	Workflows []string
	// Stacks is the stack name, or pattern, whose state the role reads and whose resources (tag `stack`) it
	// manages when it Deploys.
	Stacks string
	// Deploys lets the role write that state and manage those resources; otherwise it only previews.
	Deploys bool
	// AlsoReads are other stacks whose state the role reads (a review stack copies staging's configuration).
	AlsoReads []string
	// Decrypts are the secrets keys the role may decrypt with.
	Decrypts []string
	// Encrypts are the secrets keys the role may encrypt new data keys with (new stacks).
	Encrypts []string
	// Refreshes lets a read-only role run a refresh of its stacks (the drift check): a refresh reads every
	// SecureString parameter with decryption (terraform-provider-aws internal/service/ssm/parameter.go,
	// resourceParameterRead → findParameterByName(…, true)), so it reads the stacks' secret parameters and
	// decrypts with their own keys. The role already decrypts the same values in the stacks' configuration.
	Refreshes bool
	// InstanceAlarms lets a deploying role create alarms that recover or reboot an instance
	// (arn:aws:automate:…:ec2:recover and :reboot). No IAM condition sees which instance such an alarm acts on, so
	// only the roles of stacks whose profile asks for them (stacks.Config.InstanceAlarms: staging and production)
	// get it; the review role does not.
	InstanceAlarms bool
}

// Specs is the whole delegation: who may preview or change what.
var Specs = map[Role]Spec{
	PullRequestPreview: {Context: "pull_request", Workflows: []string{"preview.yml@refs/pull/*/merge"},
		Stacks: "staging", Decrypts: []string{"staging"}},
	// The end-to-end test runs by hand from any branch; review-stack from the pull request's merge ref.
	Review: {Context: "environment:review", Workflows: []string{"review-stack.yml@refs/pull/*/merge",
		"reap.yml@refs/heads/main", "e2e.yml@refs/heads/*"},
		Stacks: "pr-*", Deploys: true, AlsoReads: []string{"staging"},
		Decrypts: []string{"review", "staging"}, Encrypts: []string{"review"}},
	Staging: {Context: "environment:staging", Workflows: []string{"deploy.yml@refs/heads/main", "drift.yml@refs/heads/main"},
		Stacks: "staging", Deploys: true, Decrypts: []string{"staging"}, InstanceAlarms: true},
	ProductionPreview: {Context: "environment:production-preview", Workflows: []string{"deploy.yml@refs/heads/main"},
		Stacks: "production", Decrypts: []string{"production"}},
	Production: {Context: "environment:production", Workflows: []string{"deploy.yml@refs/heads/main"},
		Stacks: "production", Deploys: true, Decrypts: []string{"production"}, InstanceAlarms: true},
	// Its own role and environment, so that the refresh's reading of secret parameters is no right of the preview.
	Drift: {Context: "environment:production-drift", Workflows: []string{"drift.yml@refs/heads/main"},
		Stacks: "production", Decrypts: []string{"production"}, Refreshes: true},
}

// instanceAlarms says whether the role that deploys stacks may create alarms with EC2 actions.
func instanceAlarms(stacks string) bool {
	for _, r := range Roles {
		if s := Specs[r]; s.Deploys && s.Stacks == stacks {
			return s.InstanceAlarms
		}
	}
	return false
}

// TopicPattern matches the ARNs of the SNS topics of stacks (and their subscriptions): infra/appstack names
// each topic <project>-<stack>-… (appstack.TopicNamePrefix).
func TopicPattern(a Account, stacks string) string {
	return a.arn("sns", "*", Project+"-"+stacks+"-*")
}

// RoleName is the IAM name of a CI role.
func RoleName(r Role) string { return CIRolePrefix + string(r) }

// DeployRoles maps the name of each CI role that only previews stacks to the name of the role that deploys the
// same stacks (production-preview to production, pr-preview to staging). The stack key's policy names the
// deploying role; a preview or drift check by the preview role names the same role, so it shows no change.
func DeployRoles() map[string]string {
	out := map[string]string{}
	for _, r := range Roles {
		if Specs[r].Deploys {
			continue
		}
		for _, d := range Roles {
			if Specs[d].Deploys && Specs[d].Stacks == Specs[r].Stacks {
				out[RoleName(r)] = RoleName(d)
			}
		}
	}
	return out
}

// SubjectClaims are the claims of the repository's customized OIDC subject, in order (PUT
// /repos/{owner}/{repo}/actions/oidc/customization/sub with {"use_default": false, "include_claim_keys": …}):
// the subject then reads repo:OWNER/REPO:repository_id:ID:environment:NAME:job_workflow_ref:OWNER/REPO/.github/
// workflows/FILE@REF, each claim as key:value in this order, context being the default subject's part after the
// repository (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect,
// "Customizing the subject claims for an organization or repository"). repository_id keeps a role from a
// repository deleted and re-created under the same name; job_workflow_ref from another workflow file, or the
// same file from another branch, in the same environment.
var SubjectClaims = []string{"repo", "repository_id", "context", "job_workflow_ref"}

// Subjects are the OIDC subjects that may assume the role: one per workflow file it serves, and, when ownerID is
// set, the same subject in GitHub's immutable form as well, whose repo claim carries the owner's and the
// repository's ids (repo:OWNER@OWNERID/NAME@REPOID; repositories created or renamed from 2026-07-15 get it by
// default: https://github.blog/changelog/2026-04-23-immutable-subject-claims-for-github-actions-oidc-tokens/,
// github/docs#45221). Either form names the repository id, and each is matched exactly.
func Subjects(repository, repositoryID, ownerID string, r Role) []string {
	repos := []string{repository}
	if ownerID != "" {
		owner, name, _ := strings.Cut(repository, "/")
		repos = append(repos, owner+"@"+ownerID+"/"+name+"@"+repositoryID)
	}
	var out []string
	for _, repo := range repos {
		for _, wf := range Specs[r].Workflows {
			out = append(out, "repo:"+repo+":repository_id:"+repositoryID+":"+Specs[r].Context+
				":job_workflow_ref:"+repository+"/.github/workflows/"+wf)
		}
	}
	return out
}

// KeyAlias is the alias of an environment's secrets key.
func KeyAlias(env string) string { return "alias/appstack-secrets-" + env }

// BoundaryName is the name of the permissions boundary policy, under identity.Path.
const BoundaryName = identity.BoundaryPolicyName

// Account holds the ARNs the documents are built from.
type Account struct {
	// Partition (aws, aws-cn, aws-us-gov) and ID (12 digits) of the account.
	Partition, ID string
	// StateBucketArn and StateKeyArn are the state bucket and the key that encrypts it.
	StateBucketArn, StateKeyArn string
	// SecretsKeyArns maps review, staging and production to their secrets key.
	SecretsKeyArns map[string]string
}

func (a Account) arn(service, region, rest string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", a.Partition, service, region, a.ID, rest)
}

// RoleArn is a CI role's ARN.
func (a Account) RoleArn(r Role) string { return a.arn("iam", "", "role/"+RoleName(r)) }

// BoundaryArn is the permissions boundary every role appstack creates must carry.
func (a Account) BoundaryArn() string {
	return a.arn("iam", "", "policy"+identity.Path+BoundaryName)
}

// Statement is one IAM policy statement. Single values are written as one-element lists, which IAM reads alike.
type Statement struct {
	Sid       string                         `json:"Sid,omitempty"`
	Effect    string                         `json:"Effect"`
	Principal map[string][]string            `json:"Principal,omitempty"`
	Action    []string                       `json:"Action,omitempty"`
	NotAction []string                       `json:"NotAction,omitempty"`
	Resource  []string                       `json:"Resource,omitempty"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// JSON renders the document.
func (d Document) JSON() (string, error) {
	out, err := json.Marshal(d)
	return string(out), err
}

func doc(st ...Statement) Document { return Document{Version: "2012-10-17", Statement: st} }

// untagActions are the actions of every service whose resources a deploy role tags that remove a tag.
var untagActions = []string{
	"acm:RemoveTagsFromCertificate", "autoscaling:DeleteTags", "cloudwatch:UntagResource", "dynamodb:UntagResource",
	"ec2:DeleteTags", "ecr:UntagResource", "elasticloadbalancing:RemoveTags", "iam:UntagInstanceProfile",
	"iam:UntagRole", "kms:UntagResource", "logs:UntagLogGroup", "logs:UntagResource", "sns:UntagResource",
	"ssm:RemoveTagsFromResource",
}

// neverRemoveTheStackTag keeps the stack tag on whatever carries it: untagged, a resource would fall out of every
// stack's scope and, tagged again, into another's. aws:TagKeys lists the keys an untag call names
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-tagkeys),
// as the caller spelled them, and IAM's own tag keys are case-insensitive (`Stack` removes `stack`:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html), so they are compared ignoring case;
// ec2:DeleteTags without keys removes every tag, so it is refused too.
func neverRemoveTheStackTag() []Statement {
	return []Statement{
		{Sid: "NeverRemoveTheStackTag", Effect: "Deny", Action: slices.Clone(untagActions), Resource: list("*"),
			Condition: map[string]map[string][]string{"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": {"stack"}}}},
		{Sid: "NeverRemoveEveryEc2Tag", Effect: "Deny", Action: list("ec2:DeleteTags"), Resource: list("*"),
			Condition: map[string]map[string][]string{"Null": {"aws:TagKeys": {"true"}}}},
	}
}

func allow(sid string, actions, resources []string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resources}
}

func (s Statement) when(op, key string, values ...string) Statement {
	if s.Condition == nil {
		s.Condition = map[string]map[string][]string{}
	}
	if s.Condition[op] == nil {
		s.Condition[op] = map[string][]string{}
	}
	s.Condition[op][key] = append(s.Condition[op][key], values...)
	return s
}

func list(v ...string) []string { return v }

// TrustPolicy lets GitHub Actions tokens with one of these subjects and the STS audience assume a role
// (CKV_AWS_358: the audience is sts.amazonaws.com and the subject names this repository and one environment).
// Subjects are matched exactly (StringEquals) unless one holds a *, the number of a pull request or a branch.
func TrustPolicy(providerArn string, subjects []string) Document {
	op := "StringEquals"
	for _, s := range subjects {
		if strings.ContainsAny(s, "*?") {
			op = "StringLike"
		}
	}
	return doc(Statement{Effect: "Allow", Principal: map[string][]string{"Federated": {providerArn}},
		Action: list("sts:AssumeRoleWithWebIdentity"), Resource: nil}.
		when("StringEquals", GitHubIssuer+":aud", Audience).
		when(op, GitHubIssuer+":sub", subjects...))
}

// KeyPolicy is the policy of the state key (env "") and of each secrets key: the account administers the key
// through IAM, no CI role may do anything but use it, and only the roles meant for an environment's secrets may
// decrypt with its key.
func KeyPolicy(a Account, env string) Document {
	ciRoles := a.arn("iam", "", "role/"+CIRolePrefix+"*")
	d := doc(
		Statement{Sid: "AccountAdministersThroughIAM", Effect: "Allow",
			Principal: map[string][]string{"AWS": {fmt.Sprintf("arn:%s:iam::%s:root", a.Partition, a.ID)}},
			Action:    list("kms:*"), Resource: list("*")},
		// Deletion, disabling, policy and grant changes, re-encryption under another key, tag and alias changes:
		// a CI role may do none of them, whatever its IAM policy says.
		Statement{Sid: "CIRolesOnlyUseTheKey", Effect: "Deny", Principal: map[string][]string{"AWS": {"*"}},
			NotAction: list("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
			Resource:  list("*")}.when("ArnLike", "aws:PrincipalArn", ciRoles),
	)
	if env == "" {
		return d
	}
	var readers []string
	for _, r := range Roles {
		if slices.Contains(Specs[r].Decrypts, env) {
			readers = append(readers, a.RoleArn(r))
		}
	}
	// The secrets of an environment: no other CI role decrypts them, even if its IAM policy is widened later.
	d.Statement = append(d.Statement, Statement{Sid: "OnlyThisEnvironmentsRolesDecrypt", Effect: "Deny",
		Principal: map[string][]string{"AWS": {"*"}}, Action: list("kms:Decrypt"), Resource: list("*")}.
		when("ArnLike", "aws:PrincipalArn", ciRoles).
		when("ArnNotEquals", "aws:PrincipalArn", readers...))
	return d
}

// statePaths are the DIY backend's objects for one stack (or pattern) of the appstack project, layout version 1
// (pulumi/pulumi pkg/backend/diy: store.go StackBasePath/HistoryDir/BackupDir, lock.go lockPath): the checkpoint
// .pulumi/stacks/<project>/<stack>.json[.gz] and its .bak, history and backups under
// .pulumi/{history,backups}/<project>/<stack>/, and locks under .pulumi/locks/organization/<project>/<stack>/.
func statePaths(bucketArn, stack string) (checkpoint []string, all []string) {
	checkpoint = list(bucketArn + "/.pulumi/stacks/" + Project + "/" + stack + ".json*")
	all = append(slices.Clone(checkpoint),
		bucketArn+"/.pulumi/history/"+Project+"/"+stack+"/*",
		bucketArn+"/.pulumi/backups/"+Project+"/"+stack+"/*",
		bucketArn+"/.pulumi/locks/organization/"+Project+"/"+stack+"/*")
	return checkpoint, all
}

// RolePolicy is the inline policy of one CI role: its state, its secrets keys and what a preview reads. A deploy
// role also has the managed policies of DeployPolicies.
func RolePolicy(a Account, r Role, region string) Document {
	s := Specs[r]
	bucket := a.StateBucketArn
	checkpoint, all := statePaths(bucket, s.Stacks)
	reads := append(list(bucket+"/.pulumi/meta.yaml"), checkpoint...)
	for _, other := range s.AlsoReads {
		c, _ := statePaths(bucket, other)
		reads = append(reads, c...)
	}
	viaS3 := "s3." + region + ".amazonaws.com"
	st := []Statement{
		// Listing shows object names, never contents. It stays unconditioned: without s3:ListBucket S3 answers
		// 403 instead of 404 for a missing object, and the backend tells a new stack from a broken one by the
		// 404 (pkg/backend/diy: getCheckpoint, backupTarget's bucket.Exists).
		allow("ListState", list("s3:ListBucket"), list(bucket)),
		allow("ReadState", list("s3:GetObject"), reads),
		// The state bucket is encrypted with the state key: usable only through S3, so the key decrypts nothing
		// else for CI.
		allow("StateKeyThroughS3", stateKeyActions(s.Deploys), list(a.StateKeyArn)).
			when("StringEquals", "kms:ViaService", viaS3),
	}
	if s.Deploys {
		// Previews take no lock and write nothing (pulumi/pulumi pkg/backend/diy/backend.go: Preview calls apply
		// with DryRun and no Lock; apply persists snapshots and history only when !DryRun); deploys write the
		// checkpoint, its backup, history and their lock.
		st = append(st, allow("WriteOwnState", list("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), all))
	}
	var decrypt, encrypt []string
	for _, env := range s.Decrypts {
		decrypt = append(decrypt, a.SecretsKeyArns[env])
	}
	for _, env := range s.Encrypts {
		encrypt = append(encrypt, a.SecretsKeyArns[env])
	}
	// Pulumi's cloud secrets manager decrypts the stack's data key with kms:Decrypt and wraps a new stack's
	// data key with kms:Encrypt (pulumi/pulumi pkg/secrets/cloud/manager.go); the data key does the rest.
	st = append(st, allow("SecretsKeyDecrypt", list("kms:Decrypt"), decrypt))
	if len(encrypt) > 0 {
		st = append(st, allow("SecretsKeyEncrypt", list("kms:Encrypt"), encrypt))
	}
	// The program counts this version's earlier boot attempts from the stack's readiness signals at program
	// time, preview included (components/host: aws:ssm/getParametersByPath through the provider), and a deploy's
	// gate reads the new host's signal. They hold fingerprints and boot timings, never secrets.
	ready := a.arn("ssm", "*", "parameter/"+Project+"/"+s.Stacks+"/*/ready")
	st = append(st, allow("ReadySignals", list("ssm:GetParameter", "ssm:GetParametersByPath"),
		list(ready, ready+"/*")))
	if s.Refreshes {
		st = append(st,
			allow("RefreshSecretParameters", list("ssm:GetParameter", "ssm:GetParameters"),
				list(a.arn("ssm", "*", "parameter/"+Project+"/"+s.Stacks+"/*"))),
			allow("RefreshStackKeys", list("kms:Decrypt"), list(a.arn("kms", "*", "key/*"))).
				when("StringLike", "aws:ResourceTag/stack", s.Stacks).
				when("StringEquals", "aws:ResourceTag/managed-by", "appstack"))
	}
	st = append(st, readStatements(a)...)
	return doc(st...)
}

func stateKeyActions(writes bool) []string {
	if writes {
		return list("kms:Decrypt", "kms:GenerateDataKey")
	}
	return list("kms:Decrypt")
}

// readStatements are what a preview reads: metadata of appstack's kinds of resources and the public AMI
// parameters, never a secret parameter's value or a table's items.
func readStatements(a Account) []Statement {
	return []Statement{
		allow("PublicAMIParameters", list("ssm:GetParameter", "ssm:GetParameters"),
			list(fmt.Sprintf("arn:%s:ssm:*::parameter/aws/service/*", a.Partition))),
		// Describe, list and get-configuration calls; AWS scopes none of these below the account.
		allow("ReadMetadata", list(
			"cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource",
			"dynamodb:DescribeContinuousBackups", "dynamodb:DescribeKinesisStreamingDestination",
			"dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource",
			// The provider reads an instance with a dozen Describe calls that change between versions; every
			// EC2 Describe call returns metadata only.
			"ec2:Describe*",
			// The front door: its load balancer's parts, certificates, the hosted zone and its records.
			"acm:DescribeCertificate", "acm:ListTagsForCertificate", "elasticloadbalancing:Describe*",
			"route53:GetChange", "route53:GetHostedZone", "route53:ListHostedZones",
			"route53:ListResourceRecordSets", "route53:ListTagsForResource",
			"ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetAuthorizationToken",
			"ecr:GetLifecyclePolicy", "ecr:ListTagsForResource",
			// The image component's lookup of the content tags a repository holds (aws:ecr/getImages calls
			// ListImages: terraform-provider-aws internal/service/ecr/images_data_source.go).
			"ecr:ListImages",
			"iam:GetInstanceProfile", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
			"iam:ListInstanceProfilesForRole", "iam:ListRolePolicies",
			// The reaper's search for review stacks' roles and instance profiles that no state lists
			// (internal/lifecycle: IAMStore).
			"iam:ListInstanceProfiles", "iam:ListInstanceProfileTags", "iam:ListRoles", "iam:ListRoleTags",
			"kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags",
			"logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup",
			"sns:GetSubscriptionAttributes", "sns:GetTopicAttributes", "sns:ListTagsForResource",
			"ssm:DescribeParameters", "ssm:ListTagsForResource",
			// The end-to-end suite's scan for resources a destroyed stack left behind (tags only).
			"tag:GetResources",
			// A fleet's group, scaling policies, notifications and instance refreshes: a preview reads the group
			// the fleet runs now (aws:autoscaling/getGroup calls DescribeAutoScalingGroups), a refresh reads the
			// rest. No Auto Scaling Describe action supports resource-level permissions
			// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/control-access-using-iam.html); the launch
			// template's reads are ec2:Describe* above.
			"autoscaling:Describe*",
		), list("*")),
		// A refresh reads the front door's access-log buckets' configuration (never their objects).
		allow("FrontDoorLogBucketsRead", list("s3:GetAccelerateConfiguration", "s3:GetBucket*",
			"s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration"),
			list(FrontDoorBucketPattern(a.Partition, "*"))),
	}
}

// ssmManagedInstanceCore are the actions of AWS's AmazonSSMManagedInstanceCore (v2), the one managed policy a
// host role gets (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html).
var ssmManagedInstanceCore = []string{
	"ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
	"ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
	"ssm:DescribeAssociation", "ssm:DescribeDocument", "ssm:GetDeployablePatchSnapshotForInstance",
	"ssm:GetDocument", "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters", "ssm:ListAssociations",
	"ssm:ListInstanceAssociations", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult",
	"ssm:PutInventory", "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus",
	"ssm:UpdateInstanceInformation",
	"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
	"ssmmessages:OpenDataChannel",
}

// SSMCorePolicyArn is the managed policy appstack attaches to a host role, the only one a deploy role may attach.
func SSMCorePolicyArn(partition string) string {
	return "arn:" + partition + ":iam::aws:policy/AmazonSSMManagedInstanceCore"
}

// StackOfPrincipal is the policy variable for the calling role's `stack` tag. Every host role carries it
// (components/tags), and a deploy role can set it only to its own stacks.
const StackOfPrincipal = "${aws:PrincipalTag/stack}"

// BoundaryPolicy caps what any role appstack creates can ever do: what components/identity grants a host
// (pull from ECR, use DynamoDB tables, read the stack's parameters and write its readiness signal, use the
// stack's key, write logs) plus AmazonSSMManagedInstanceCore, and only on resources of the role's own stack
// (its `stack` tag). A host role with an administrator policy attached still gets no more than this, so a
// review stack's host never reads production's images, tables or secrets.
func BoundaryPolicy(a Account) Document {
	const ownStack = "aws:ResourceTag/stack"
	return doc(
		// A deploy role may create a role under the boundary whose trust policy names anyone (iam:CreateRole cannot
		// condition the trust policy), and whoever assumes it may pass a session tag stack=<another stack>, which
		// overrides the role's own tag of that key
		// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html, "Tag key override"): every
		// ${aws:PrincipalTag/stack} below would then name that stack. A host's calls are signed with its instance
		// profile's credentials, which carry ec2:SourceInstanceARN, the instance they were delivered to
		// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html, and the IAM User
		// Guide's global condition keys, reference_policies_condition-keys.html); a session assumed any other way
		// carries no such key and may do nothing. Calls a service makes on a host's behalf (SSM's KMS decrypt of a
		// SecureString) are aws:ViaAWSService and follow the host's own call, which this already checked.
		Statement{Sid: "OnlyInstanceSessions", Effect: "Deny", Action: list("*"), Resource: list("*")}.
			when("Null", "ec2:SourceInstanceARN", "true").
			when("BoolIfExists", "aws:ViaAWSService", "false"),
		allow("EcrLogin", list("ecr:GetAuthorizationToken"), list("*")),
		allow("EcrPull", list("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
			list(a.arn("ecr", "*", "repository/*"))).when("StringEquals", ownStack, StackOfPrincipal),
		allow("Tables", list("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
			"dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
			"dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"),
			list(a.arn("dynamodb", "*", "table/*"))).when("StringEquals", ownStack, StackOfPrincipal),
		// The boot writes its readiness signal and, once ready, deletes other deploys' signals under the same
		// path (components/identity's ReadySignal and ReadySignalList).
		allow("ReadySignal", list("ssm:DeleteParameter", "ssm:PutParameter"),
			list(a.arn("ssm", "*", "parameter/"+Project+"/"+StackOfPrincipal+"/*/ready/*"))),
		allow("ReadySignalList", list("ssm:GetParametersByPath"),
			list(a.arn("ssm", "*", "parameter/"+Project+"/"+StackOfPrincipal+"/*/ready"))),
		// Only the key of the host's own stack, which appstack created (managed-by=appstack): never the state
		// key or a secrets key, which the bootstrap tags managed-by=appstack-bootstrap and no CI role may re-tag.
		allow("StackKey", list("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
			list(a.arn("kms", "*", "key/*"))).
			when("StringEquals", "aws:ResourceTag/managed-by", "appstack").
			when("StringEquals", ownStack, StackOfPrincipal),
		// Log groups carry the stack tag, and DescribeLogStreams, authorized on the group, must name the host's own
		// stack's. CreateLogStream and PutLogEvents are authorized on the log stream
		// (arn:…:log-group:<group>:log-stream:<stream>, Service Authorization Reference, list_amazoncloudwatchlogs.html).
		// That reference lists aws:ResourceTag for the log-stream type, but a stream has no tags of its own
		// (CloudWatch Logs tags log groups and destinations), and no AWS document says IAM passes the group's tags
		// for a stream action. A StringEquals on it would refuse every host's logs if AWS does not; the IfExists
		// form scopes the streams to the host's stack if AWS passes the group's tags and changes nothing if it does
		// not. A log group's name is Pulumi's auto-name of its component (<name>-logs-<suffix>, infra/appstack),
		// without the stack, so the name cannot scope it either: the host's own policy (components/identity), which
		// names its own group only, is what is known to keep a host out of another stack's streams.
		allow("Logs", list("logs:DescribeLogStreams"), list(a.arn("logs", "*", "log-group:*"))).
			when("StringEquals", ownStack, StackOfPrincipal),
		allow("LogStreams", list("logs:CreateLogStream", "logs:PutLogEvents"),
			list(a.arn("logs", "*", "log-group:*:log-stream:*"))).
			when("StringEqualsIfExists", ownStack, StackOfPrincipal),
		// AmazonSSMManagedInstanceCore's parameter reads (the SSM Agent resolves {{ssm:…}} references in the
		// documents it runs) are limited to the stack's own path and AWS's public parameters, whose ARNs name no
		// account (arn:…:ssm:<region>::parameter/aws/service/…,
		// https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters.html).
		allow("Parameters", list("ssm:GetParameter", "ssm:GetParameters"), list(
			a.arn("ssm", "*", "parameter/"+Project+"/"+StackOfPrincipal+"/*"),
			fmt.Sprintf("arn:%s:ssm:*::parameter/aws/service/*", a.Partition))),
		allow("SessionManager", slices.DeleteFunc(slices.Clone(ssmManagedInstanceCore), func(action string) bool {
			return action == "ssm:GetParameter" || action == "ssm:GetParameters"
		}), list("*")),
	)
}

// Managed is a managed policy of a deploy role: its name suffix and its document.
type Managed struct {
	Name string
	Doc  Document
}

// DeployPolicies let a deploy role manage appstack's resources of its own stacks (tag stack, SSM path
// /appstack/<stack>/) and nothing else, and create roles only inside the boundary. They are managed policies,
// six per role (the fourth and fifth are the HTTPS front door's, FrontDoorPolicy and FrontDoorLogsPolicy, the
// sixth the fleet's, FleetPolicy):
// together they exceed the 10,240 characters IAM allows a role's inline policies, and each stays under the 6,144
// of a managed policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html), ten of which
// a role may have attached by default.
func DeployPolicies(a Account, stacks string, dns DNSScope) []Managed {
	const ownTag, newTag = "aws:ResourceTag/stack", "aws:RequestTag/stack"
	ec2 := func(kind string) string { return a.arn("ec2", "*", kind+"/*") }
	// The EC2 resource types a stack creates with tags (components: instances, their volumes and network interfaces,
	// addresses, security groups and their rules), named one by one rather than as */*; launch templates are
	// FleetPolicy's.
	tagged := list(ec2("elastic-ip"), ec2("instance"), ec2("network-interface"), ec2("security-group"),
		ec2("security-group-rule"), ec2("volume"))
	iamRoles := a.arn("iam", "", "role"+identity.Path+"*")
	profiles := a.arn("iam", "", "instance-profile"+identity.Path+"*")
	boundary := a.BoundaryArn()
	params := a.arn("ssm", "*", "parameter/"+Project+"/"+strings.TrimSuffix(stacks, "*"))
	if !strings.HasSuffix(stacks, "*") {
		params += "/"
	}
	params += "*"
	topics := list(TopicPattern(a, stacks))
	alarmActions := list(TopicPattern(a, stacks))
	if instanceAlarms(stacks) {
		alarmActions = append(alarmActions, "arn:"+a.Partition+":automate:*:ec2:recover",
			"arn:"+a.Partition+":automate:*:ec2:reboot")
	}
	out := []Managed{
		{"compute", doc(
			// EC2: instances, their volumes, the Elastic IP and the security group carry the stack's tags from the
			// call that creates them; every later change needs the tag.
			allow("Ec2LaunchTagged", list("ec2:RunInstances"), list(ec2("instance"), ec2("volume"))).
				when("StringLike", newTag, stacks),
			allow("Ec2LaunchIntoOwnGroup", list("ec2:RunInstances"), list(ec2("security-group"))).
				when("StringLike", ownTag, stacks),
			// The other resources RunInstances names, which carry no stack tag.
			allow("Ec2LaunchUses", list("ec2:RunInstances"), list(ec2("subnet"), ec2("network-interface"),
				fmt.Sprintf("arn:%s:ec2:*::image/*", a.Partition))),
			allow("Ec2CreateTagged", list("ec2:AllocateAddress", "ec2:CreateSecurityGroup"),
				list(ec2("elastic-ip"), ec2("security-group"))).when("StringLike", newTag, stacks),
			allow("Ec2GroupInVpc", list("ec2:CreateSecurityGroup"), list(a.arn("ec2", "*", "vpc/*"))),
			allow("Ec2TagOnCreate", list("ec2:CreateTags"), tagged).
				when("StringEquals", "ec2:CreateAction", "AllocateAddress", "AuthorizeSecurityGroupEgress",
					"AuthorizeSecurityGroupIngress", "CreateSecurityGroup", "RunInstances").
				when("StringLike", newTag, stacks),
			// Every change but tagging needs the stack's tag; tags are changed by Ec2RetagOwn, so that a tag change
			// never hands a resource to another stack.
			allow("Ec2ChangeOwn", list(
				"ec2:AssociateAddress", "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress",
				"ec2:DeleteSecurityGroup", "ec2:DisassociateAddress",
				"ec2:ModifyInstanceAttribute", "ec2:ModifyInstanceMetadataOptions", "ec2:ModifySecurityGroupRules",
				"ec2:MonitorInstances", "ec2:RebootInstances", "ec2:ReleaseAddress", "ec2:RevokeSecurityGroupEgress",
				"ec2:RevokeSecurityGroupIngress", "ec2:StartInstances", "ec2:StopInstances", "ec2:TerminateInstances",
				"ec2:UnmonitorInstances", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
				"ec2:UpdateSecurityGroupRuleDescriptionsIngress",
			), list(ec2("instance"), ec2("volume"), ec2("elastic-ip"), ec2("security-group"), ec2("security-group-rule"))).
				when("StringLike", ownTag, stacks),
			allow("Ec2RetagOwn", list("ec2:CreateTags", "ec2:DeleteTags"), tagged).
				when("StringLike", ownTag, stacks).
				when("StringLikeIfExists", newTag, stacks),
			// AssociateAddress moves an address onto a host, disassociating the address the host had: "If you
			// associate an Elastic IP address with an instance that has an existing Elastic IP address, the existing
			// address is disassociated" (EC2 API reference, AssociateAddress). The call names an instance or a network
			// interface, each an authorized resource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html),
			// so both must be the stack's own: the host tags its primary interface at launch (components/host's
			// launch template), and an interface of another stack's host is refused.
			allow("Ec2AddressesOnOwnInterfaces", list("ec2:AssociateAddress"), list(ec2("network-interface"))).
				when("StringLike", ownTag, stacks),
			// Taking an address off an interface needs the address itself to be the role's own (Ec2ChangeOwn on
			// the elastic-ip); the interface may be an older host's, launched before interfaces were tagged.
			allow("Ec2DisassociateOwnAddresses", list("ec2:DisassociateAddress"), list(ec2("network-interface"))),
			// Rules are reached only through a group checked above.
			allow("Ec2RulesOfOwnGroups", list("ec2:AuthorizeSecurityGroupEgress",
				"ec2:AuthorizeSecurityGroupIngress", "ec2:ModifySecurityGroupRules",
				"ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"),
				list(ec2("security-group-rule"))),
		)},
		{"services", doc(
			// Tag-on-create: each of these services authorizes its tag action (ecr:TagResource, dynamodb:TagResource,
			// kms:TagResource, logs:TagResource, cloudwatch:TagResource, sns:TagResource) for the tags a create call
			// passes, and none has a condition key like ec2:CreateAction that tells that check from tagging an
			// existing resource (Service Authorization Reference, each service's actions table). The tag statements
			// therefore set the stack tag only to this role's stacks, on a new resource or one of its own, and
			// NeverRemoveTheStackTag keeps it on; topics, whose names carry the stack, are scoped by name as well.
			allow("EcrCreateTagged", list("ecr:CreateRepository"), list(a.arn("ecr", "*", "repository/*"))).
				when("StringLike", newTag, stacks),
			allow("EcrOwnRepositories", list(
				"ecr:BatchCheckLayerAvailability", "ecr:BatchDeleteImage", "ecr:BatchGetImage",
				"ecr:CompleteLayerUpload", "ecr:DeleteLifecyclePolicy", "ecr:DeleteRepository",
				"ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage",
				"ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability", "ecr:PutLifecyclePolicy",
				"ecr:UntagResource", "ecr:UploadLayerPart",
			), list(a.arn("ecr", "*", "repository/*"))).when("StringLike", ownTag, stacks),

			allow("TablesCreateTagged", list("dynamodb:CreateTable"), list(a.arn("dynamodb", "*", "table/*"))).
				when("StringLike", newTag, stacks),
			allow("TablesOwn", list("dynamodb:DeleteTable", "dynamodb:UntagResource",
				"dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive"),
				list(a.arn("dynamodb", "*", "table/*"))).when("StringLike", ownTag, stacks),

			// The stack's own key: created tagged, then changed only while it carries the tag. Tag conditions
			// alone would race a new key: "it might take up to five minutes for tag and alias changes to affect
			// KMS key authorization" (https://docs.aws.amazon.com/kms/latest/developerguide/abac.html). So the
			// key's policy also names the role that deploys the stack for what the deploy does with its key
			// right after CreateKey (components/secrets KeyPolicy); a key policy is also what lets CloudWatch
			// publish to the encrypted alarm topic.
			allow("StackKeyCreate", list("kms:CreateKey"), list("*")).
				when("StringLike", newTag, stacks),
			allow("StackKeysOwn", list("kms:Decrypt", "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey",
				"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:UntagResource",
				"kms:UpdateKeyDescription"), list(a.arn("kms", "*", "key/*"))).
				when("StringLike", ownTag, stacks).
				when("StringEquals", "aws:ResourceTag/managed-by", "appstack"),
			// DynamoDB and ECR encrypt with a grant they create on the stack's key for the resource.
			allow("KeyGrantsForAWSResources", list("kms:CreateGrant"), list(a.arn("kms", "*", "key/*"))).
				when("Bool", "kms:GrantIsForAWSResource", "true").
				when("StringLike", ownTag, stacks).
				when("StringEquals", "aws:ResourceTag/managed-by", "appstack"),

			allow("StackParameters", list("ssm:AddTagsToResource", "ssm:DeleteParameter", "ssm:DeleteParameters",
				"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:PutParameter",
				"ssm:RemoveTagsFromResource"), list(params)),

			allow("LogsCreateTagged", list("logs:CreateLogGroup"), list(a.arn("logs", "*", "log-group:*"))).
				when("StringLike", newTag, stacks),
			allow("LogsOwn", list("logs:DeleteLogGroup", "logs:DeleteRetentionPolicy", "logs:PutRetentionPolicy",
				"logs:UntagResource"), list(a.arn("logs", "*", "log-group:*"))).
				when("StringLike", ownTag, stacks),

			// Tags of a new resource or of one of this role's stacks, and only to this role's stacks.
			allow("TagOwnOrNew", list("cloudwatch:TagResource", "dynamodb:TagResource", "ecr:TagResource",
				"kms:TagResource", "logs:TagResource"), list(
				a.arn("cloudwatch", "*", "alarm:*"), a.arn("dynamodb", "*", "table/*"), a.arn("ecr", "*", "repository/*"),
				a.arn("kms", "*", "key/*"), a.arn("logs", "*", "log-group:*"))).
				when("StringLike", newTag, stacks).
				when("StringLikeIfExists", ownTag, stacks),

			// Alarms notify this role's own stacks' topics only; recovering or rebooting an instance is for the
			// roles whose stacks' profiles ask for it (alarmActions): no condition key names the instance an
			// alarm's EC2 action acts on, so a role allowed arn:aws:automate:…:ec2:reboot could reboot any host.
			allow("AlarmsCreateTagged", list("cloudwatch:PutMetricAlarm"),
				list(a.arn("cloudwatch", "*", "alarm:*"))).
				when("StringLike", newTag, stacks).
				when("StringLikeIfExists", ownTag, stacks).
				when("ForAllValues:StringLike", "cloudwatch:AlarmActions", alarmActions...),
			// PutMetricAlarm asks for iam:CreateServiceLinkedRole on every alarm with EC2 actions (CloudWatch API
			// reference, PutMetricAlarm); this grant can create nothing but that one role, which the bootstrap made.
			allow("AlarmServiceLinkedRole", list("iam:CreateServiceLinkedRole"),
				list(a.arn("iam", "", "role/aws-service-role/"+EventsService+"/AWSServiceRoleForCloudWatchEvents*"))).
				when("StringEquals", "iam:AWSServiceName", EventsService),
			allow("AlarmsOwn", list("cloudwatch:DeleteAlarms", "cloudwatch:UntagResource"),
				list(a.arn("cloudwatch", "*", "alarm:*"))).when("StringLike", ownTag, stacks),

			// Topics are named <project>-<stack>-… (infra/appstack TopicNamePrefix), so every SNS call is
			// scoped to this role's stacks' topics by name as well as by tag. sns:Unsubscribe names a subscription,
			// and its one resource type is the topic (Service Authorization Reference, list_amazonsns.html); the
			// subscription's ARN, its topic's followed by :<id>, would match the same pattern.
			allow("TopicCreateTagged", list("sns:CreateTopic", "sns:TagResource"), topics).
				when("StringLike", newTag, stacks).
				when("StringLikeIfExists", ownTag, stacks),
			allow("TopicsOwn", list("sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe",
				"sns:UntagResource"), topics).when("StringLike", ownTag, stacks),
			allow("Unsubscribe", list("sns:Unsubscribe"), topics),
		)},
		{"iam", doc(
			// IAM: host roles and instance profiles under identity.Path, of this role's stacks, inside the boundary;
			// the delegation pattern of https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
			// (create or change only with the boundary, never delete it, never edit the boundary policy).
			allow("CreateHostRolesWithinBoundary", list("iam:CreateRole"), list(iamRoles)).
				when("StringEquals", "iam:PermissionsBoundary", boundary).
				when("StringLike", newTag, stacks),
			allow("OwnHostRolesWithinBoundary", list("iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"),
				list(iamRoles)).
				when("StringEquals", "iam:PermissionsBoundary", boundary).
				when("StringLike", ownTag, stacks),
			allow("AttachOnlySSMCore", list("iam:AttachRolePolicy"), list(iamRoles)).
				when("StringEquals", "iam:PermissionsBoundary", boundary).
				when("ArnEquals", "iam:PolicyARN", SSMCorePolicyArn(a.Partition)).
				when("StringLike", ownTag, stacks),
			allow("OwnHostRoles", list("iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
				"iam:UntagRole", "iam:UpdateRole", "iam:UpdateRoleDescription"), list(iamRoles)).
				when("StringLike", ownTag, stacks),
			// Tags the host role's permissions depend on (the boundary reads its stack tag): set only to this
			// role's stacks, never on another stack's role.
			allow("TagHostRoles", list("iam:TagRole"), list(iamRoles)).
				when("StringLike", newTag, stacks).
				when("StringLikeIfExists", ownTag, stacks),
			allow("CreateHostProfiles", list("iam:CreateInstanceProfile", "iam:TagInstanceProfile"), list(profiles)).
				when("StringLike", newTag, stacks).
				when("StringLikeIfExists", ownTag, stacks),
			allow("OwnHostProfiles", list("iam:AddRoleToInstanceProfile", "iam:DeleteInstanceProfile",
				"iam:RemoveRoleFromInstanceProfile", "iam:UntagInstanceProfile"), list(profiles)).
				when("StringLike", ownTag, stacks),
			// iam:AddRoleToInstanceProfile is authorized as iam:PassRole on the role ("The caller of this operation
			// must be granted the PassRole permission on the IAM role": IAM API reference,
			// AddRoleToInstanceProfile), and that request names no service, so iam:PassedToService is absent
			// there; every call that passes a role to a service sets it, and then it must be EC2.
			allow("PassOwnHostRolesToEC2Only", list("iam:PassRole"), list(iamRoles)).
				when("StringEqualsIfExists", "iam:PassedToService", "ec2.amazonaws.com").
				when("StringLike", ownTag, stacks),
			// A role a deploy role created could trust the deploy role itself; it never gets to use it.
			Statement{Sid: "NeverAssumeHostRoles", Effect: "Deny", Action: list("sts:AssumeRole", "sts:TagSession"),
				Resource: list(iamRoles)},
			Statement{Sid: "NeverRemoveTheBoundary", Effect: "Deny", Action: list("iam:DeleteRolePermissionsBoundary"),
				Resource: list("*")},
			Statement{Sid: "NeverSwapTheBoundary", Effect: "Deny", Action: list("iam:PutRolePermissionsBoundary"),
				Resource: list("*")}.when("StringNotEquals", "iam:PermissionsBoundary", boundary),
			Statement{Sid: "NeverEditTheBoundary", Effect: "Deny", Action: list("iam:CreatePolicyVersion", "iam:DeletePolicy",
				"iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"),
				Resource: list(boundary)},
		)},
		FrontDoorPolicy(a, stacks, dns),
		FrontDoorLogsPolicy(a, stacks, dns),
		FleetPolicy(a, stacks),
	}
	for i := range out {
		if out[i].Name == "iam" {
			out[i].Doc.Statement = append(out[i].Doc.Statement, neverRemoveTheStackTag()...)
		}
	}
	return out
}

// FleetPolicy lets a deploy role run its own stacks' fleets (appstack:hosting fleet) and nothing more: the Auto
// Scaling group, its scaling policies, notifications, target groups and instance refreshes by the group's stack
// tag, the launch template by its stack tag, and what Auto Scaling checks of the caller when it creates or updates
// a group with a launch template: ec2:RunInstances on the template's resources, ec2:CreateTags for the instances
// and volumes the template tags, iam:PassRole of the template's instance profile's role, and
// iam:CreateServiceLinkedRole for its own service-linked role
// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-api-permissions.html,
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html). The
// compute policy's instance, volume, security group, subnet, image and network interface grants, Ec2TagOnCreate
// and PassOwnHostRolesToEC2Only already cover a launch; the template itself is this policy's. Actions, resource
// types and condition keys: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html
// (the group ARN autoScalingGroup:<uuid>:autoScalingGroupName/<name>, tags autoscaling:ResourceTag/<key> and
// aws:RequestTag/<key>, autoscaling:LaunchTemplateVersionSpecified, autoscaling:LaunchConfigurationName).
// Groups are scoped by tag, not name, as AWS recommends
// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/security_iam_id-based-policy-examples.html).
func FleetPolicy(a Account, stacks string) Managed {
	const ownTag, newTag, ownGroup = "aws:ResourceTag/stack", "aws:RequestTag/stack", "autoscaling:ResourceTag/stack"
	groups := list(a.arn("autoscaling", "*", "autoScalingGroup:*:autoScalingGroupName/*"))
	templates := list(a.arn("ec2", "*", "launch-template/*"))
	// A group runs a numbered template version, never $Latest or $Default: Auto Scaling checks the caller's
	// ec2:RunInstances only when a group is created or updated with a template, and "for an Auto Scaling group that
	// is configured to use the Latest or Default launch template, the permissions are not checked when a new version
	// of the launch template is created" (ec2-auto-scaling-launch-template-permissions.html). Calls that name no
	// template leave the key out. Only CreateAutoScalingGroup and UpdateAutoScalingGroup carry the key (Service
	// Authorization Reference): an instance refresh's desired configuration names a template version no condition
	// key shows.
	numbered := func(s Statement) Statement {
		return s.when("BoolIfExists", "autoscaling:LaunchTemplateVersionSpecified", "true")
	}
	// Nor a launch configuration of the account, whose instance profile nobody checks at this point.
	noLaunchConfiguration := func(s Statement) Statement {
		return s.when("Null", "autoscaling:LaunchConfigurationName", "true")
	}
	// Auto Scaling registers a group's hosts in its target groups as its own service-linked role, checking no
	// Elastic Load Balancing right of the caller: without this a review stack's group could serve production's
	// target groups. A fleet's target groups are named <stack>-… (frontdoor.PrefixedTargetGroupName), and
	// autoscaling:TargetGroupARNs holds every target group a request names (service authorization reference,
	// Amazon EC2 Auto Scaling condition keys); a request that names none passes. CreateAutoScalingGroup and
	// AttachLoadBalancerTargetGroups name target groups; UpdateAutoScalingGroup cannot.
	ownTargets := func(s Statement) Statement {
		return s.when("ForAllValues:ArnLike", "autoscaling:TargetGroupARNs",
			a.arn("elasticloadbalancing", "*", "targetgroup/"+stacks+"-*/*"))
	}
	return Managed{"fleet", doc(
		ownTargets(noLaunchConfiguration(numbered(allow("FleetGroupsCreateTagged",
			list("autoscaling:CreateAutoScalingGroup"), groups).when("StringLike", newTag, stacks)))),
		noLaunchConfiguration(numbered(allow("FleetGroupsUpdateOwn",
			list("autoscaling:UpdateAutoScalingGroup"), groups).when("StringLike", ownGroup, stacks))),
		ownTargets(allow("FleetGroupsAttachOwnTargets", list("autoscaling:AttachLoadBalancerTargetGroups"), groups).
			when("StringLike", ownGroup, stacks)),
		// Tags set only to this role's stacks, on a new group or one of its own.
		allow("FleetGroupsTag", list("autoscaling:CreateOrUpdateTags"), groups).
			when("StringLike", newTag, stacks).
			when("StringLikeIfExists", ownGroup, stacks),
		// What the provider calls on its own group (terraform-provider-aws internal/service/autoscaling: group.go
		// creates, updates and deletes with metrics collection, target groups and tags; policy.go and
		// notification.go), and the rollout controller's instance refreshes. A tag change may not hand the group
		// to another stack.
		allow("FleetGroupsOwn", list(
			"autoscaling:CancelInstanceRefresh",
			"autoscaling:CreateOrUpdateTags", "autoscaling:DeleteAutoScalingGroup",
			"autoscaling:DeleteNotificationConfiguration", "autoscaling:DeletePolicy", "autoscaling:DeleteTags",
			"autoscaling:DetachLoadBalancerTargetGroups", "autoscaling:DisableMetricsCollection",
			"autoscaling:EnableMetricsCollection", "autoscaling:PutNotificationConfiguration",
			"autoscaling:PutScalingPolicy", "autoscaling:RollbackInstanceRefresh", "autoscaling:StartInstanceRefresh",
		), groups).
			when("StringLike", ownGroup, stacks).
			when("StringLikeIfExists", newTag, stacks),

		allow("LaunchTemplatesCreateTagged", list("ec2:CreateLaunchTemplate"), templates).
			when("StringLike", newTag, stacks),
		// Tags given in CreateLaunchTemplate are authorized as ec2:CreateTags too
		// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html).
		allow("LaunchTemplatesTagOnCreate", list("ec2:CreateTags"), templates).
			when("StringEquals", "ec2:CreateAction", "CreateLaunchTemplate").
			when("StringLike", newTag, stacks),
		// The provider's update is a new version and the default version moved to it (ModifyLaunchTemplate), its
		// delete DeleteLaunchTemplate (terraform-provider-aws internal/service/ec2/ec2_launch_template.go).
		allow("LaunchTemplatesOwn", list("ec2:CreateLaunchTemplateVersion", "ec2:CreateTags", "ec2:DeleteLaunchTemplate",
			"ec2:DeleteTags", "ec2:ModifyLaunchTemplate"), templates).
			when("StringLike", ownTag, stacks).
			when("StringLikeIfExists", newTag, stacks),
		// The dry-run RunInstances Auto Scaling makes as the caller names the template too. The instances and
		// volumes it would launch carry the template's tag specifications, which is what Ec2LaunchTagged's
		// aws:RequestTag/stack checks (a mandatory-tag policy refused a group's launch check until its template
		// tagged the instances: terraform-aws-modules/terraform-aws-eks issue 822).
		allow("LaunchFromOwnTemplates", list("ec2:RunInstances"), templates).
			when("StringLike", ownTag, stacks),
		// Auto Scaling reads a new group's security groups as the caller while it validates the group (a CloudTrail
		// trace of CreateAutoScalingGroup shows GetSecurityGroupsForVpc invoked by autoscaling.amazonaws.com next to
		// the RunInstances dry run: RaJiska/terraform-aws-fck-nat issue 85); metadata only, like ec2:Describe*.
		allow("FleetValidationReads", list("ec2:GetSecurityGroupsForVpc"), list("*")),
		// CreateAutoScalingGroup creates the service-linked role when the account has none; the bootstrap creates it
		// first, and this grant can create nothing else
		// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/security_iam_id-based-policy-examples.html).
		allow("FleetServiceLinkedRole", list("iam:CreateServiceLinkedRole"), list(a.arn("iam", "",
			"role/aws-service-role/"+identity.AutoScalingService+"/"+identity.AutoScalingServiceLinkedRoleName))).
			when("StringEquals", "iam:AWSServiceName", identity.AutoScalingService),
	)}
}

// ElbService is the service whose service-linked role (AWSServiceRoleForElasticLoadBalancing) creates a load
// balancer's network interfaces; AWS creates it with the account's first load balancer, which needs
// iam:CreateServiceLinkedRole from the caller.
const ElbService = "elasticloadbalancing.amazonaws.com"

// FrontDoorBucketPattern is the access-log buckets of stacks: infra/appstack names them
// <project>-<stack>-alb-logs-<suffix> (appstack.LogBucketPrefix).
func FrontDoorBucketPattern(partition, stacks string) string {
	return fmt.Sprintf("arn:%s:s3:::%s-%s-alb-logs-*", partition, Project, stacks)
}

// FrontDoorPolicy lets a deploy role manage its own stacks' HTTPS front door (a stack with appstack:domain):
// the load balancer, listeners and rules by the stack tag (a listener or rule only on its own load balancer or
// listener), target groups by the stack tag, created only under their names (`<stack>-…`, which FleetPolicy's
// autoscaling:TargetGroupARNs trusts), the ACM certificates by the stack tag and their names (its access-log bucket
// is FrontDoorLogsPolicy's), and in Route 53 only the alias (A) records of the role's own names and the validation
// (CNAME) records of their certificates, in its own zone (dns). Route 53 records carry no tags: their names are the scope.
// Without names the role may request no certificate and change no record.
func FrontDoorPolicy(a Account, stacks string, dns DNSScope) Managed {
	const ownTag, newTag = "aws:ResourceTag/stack", "aws:RequestTag/stack"
	elb := func(kind string) string { return a.arn("elasticloadbalancing", "*", kind+"/*") }
	// A target group's ARN is targetgroup/<name>/<id> (service authorization reference, Elastic Load Balancing V2
	// resource types), for CreateTargetGroup too.
	targetGroups := a.arn("elasticloadbalancing", "*", "targetgroup/"+stacks+"-*/*")
	// Target groups created before they were named for their stack (<service>-<hash>) have always carried the
	// stack tag: everything but their creation and Auto Scaling's attachment goes by the tag alone. Tags passed
	// to a create call are authorized only within that call, which the create grants scope.
	elbAll := list(elb("loadbalancer/app"), elb("targetgroup"), elb("listener/app"), elb("listener-rule/app"))
	st := []Statement{
		allow("ElbCreateTagged", list("elasticloadbalancing:CreateLoadBalancer",
			"elasticloadbalancing:CreateTargetGroup"), list(elb("loadbalancer/app"), targetGroups)).
			when("StringLike", newTag, stacks),
		// CreateListener is authorized on the load balancer it adds to and CreateRule on the listener, and both
		// carry that parent's aws:ResourceTag (Service Authorization Reference, Elastic Load Balancing V2:
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html):
		// a rule on another stack's listener would forward its traffic to this role's target group.
		allow("ElbAddToOwn", list("elasticloadbalancing:CreateListener", "elasticloadbalancing:CreateRule"),
			list(elb("loadbalancer/app"), elb("listener/app"))).
			when("StringLike", newTag, stacks).
			when("StringLike", ownTag, stacks),
		// Tags passed to a create call are authorized as elasticloadbalancing:AddTags, which then carries
		// elasticloadbalancing:CreateAction; a direct AddTags does not, and may only re-tag this role's own
		// resources (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html).
		allow("ElbTagOnCreate", list("elasticloadbalancing:AddTags"), elbAll).
			when("StringEquals", "elasticloadbalancing:CreateAction", "CreateLoadBalancer", "CreateTargetGroup",
				"CreateListener", "CreateRule").
			when("StringLike", newTag, stacks),
		allow("ElbRetagOwn", list("elasticloadbalancing:AddTags"), elbAll).
			when("StringLike", ownTag, stacks).
			when("StringLikeIfExists", newTag, stacks),
		// A rule's priority change is SetRulePriorities (terraform-provider-aws internal/service/elbv2/
		// listener_rule.go, resourceListenerRuleUpdate), authorized on the rule.
		allow("ElbOwn", list("elasticloadbalancing:AddListenerCertificates",
			"elasticloadbalancing:DeleteListener", "elasticloadbalancing:DeleteLoadBalancer",
			"elasticloadbalancing:DeleteRule", "elasticloadbalancing:DeleteTargetGroup",
			"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:ModifyListener",
			"elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyLoadBalancerAttributes",
			"elasticloadbalancing:ModifyRule", "elasticloadbalancing:ModifyTargetGroup",
			"elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:RegisterTargets",
			"elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:RemoveTags",
			"elasticloadbalancing:SetRulePriorities", "elasticloadbalancing:SetSecurityGroups",
			"elasticloadbalancing:SetSubnets"), elbAll).
			when("StringLike", ownTag, stacks),
		allow("ElbServiceLinkedRole", list("iam:CreateServiceLinkedRole"),
			list(a.arn("iam", "", "role/aws-service-role/"+ElbService+"/AWSServiceRoleForElasticLoadBalancing*"))).
			when("StringEquals", "iam:AWSServiceName", ElbService),
		allow("CertificatesTagOnCreate", list("acm:AddTagsToCertificate"), list(a.arn("acm", "*", "certificate/*"))).
			when("StringLike", newTag, stacks).
			when("StringLikeIfExists", ownTag, stacks),
		allow("CertificatesOwn", list("acm:DeleteCertificate", "acm:RemoveTagsFromCertificate"),
			list(a.arn("acm", "*", "certificate/*"))).
			when("StringLike", ownTag, stacks),
	}
	if dns.Empty() {
		return Managed{"frontdoor", doc(st...)}
	}
	var zones []string
	for _, id := range dns.ZoneIDs {
		zones = append(zones, fmt.Sprintf("arn:%s:route53:::hostedzone/%s", a.Partition, id))
	}
	st = append(st,
		// RequestCertificate names no resource (the Service Authorization Reference lists none for it);
		// acm:DomainNames holds the certificate's name and its alternative names
		// (https://docs.aws.amazon.com/acm/latest/userguide/acm-conditions.html). ForAllValues passes a request
		// without the key, so the key must be there.
		allow("CertificatesRequestTagged", list("acm:RequestCertificate"), list("*")).
			when("StringLike", newTag, stacks).
			when("ForAllValues:StringLike", "acm:DomainNames", dns.Names...).
			when("Null", "acm:DomainNames", "false"),
		// Every change of a request must be an A record of one of the role's names (the front door's alias
		// records, components/frontdoor), in the role's zone (condition keys and their normalized values:
		// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html). Creating,
		// overwriting and deleting its own names are all a deploy needs (route53_record: CREATE, UPSERT with
		// allow_overwrite, DELETE), so route53:ChangeResourceRecordSetsActions adds nothing here.
		allow("DnsOwnRecords", list("route53:ChangeResourceRecordSets"), zones).
			when("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes", "A").
			when("ForAllValues:StringLike", "route53:ChangeResourceRecordSetsNormalizedRecordNames", dns.Names...).
			when("Null", "route53:ChangeResourceRecordSetsNormalizedRecordNames", "false"),
		// CNAME records only for the certificates' validation records (`_<32 hex digits>.<name>`, ACM's CNAME):
		// a CNAME elsewhere could put another domain's SPF or DKIM (`<selector>._domainkey.<zone>`) under the
		// zone's domain. Each record is its own request (terraform-provider-aws route53_record).
		allow("DnsValidation", list("route53:ChangeResourceRecordSets"), zones).
			when("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes", "CNAME").
			when("ForAllValues:StringLike", "route53:ChangeResourceRecordSetsNormalizedRecordNames",
				dns.ValidationNamePatterns()...).
			when("Null", "route53:ChangeResourceRecordSetsNormalizedRecordNames", "false"),
	)
	return Managed{"frontdoor", doc(st...)}
}

// FrontDoorLogsPolicy lets a deploy role manage its own stacks' access-log buckets, by their names
// (FrontDoorBucketPattern), and with DNS names refuses the record names no stack writes (dnsServiceLabelsDenied). It is FrontDoorPolicy's, kept apart so that each managed policy stays under IAM's
// 6,144 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
func FrontDoorLogsPolicy(a Account, stacks string, dns DNSScope) Managed {
	bucket := FrontDoorBucketPattern(a.Partition, stacks)
	st := []Statement{
		allow("LogBucketsOwn", list("s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy",
			"s3:GetAccelerateConfiguration", "s3:GetBucket*", "s3:GetEncryptionConfiguration",
			"s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:ListBucket",
			"s3:ListBucketVersions", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
			"s3:PutBucketPublicAccessBlock", "s3:PutBucketTagging", "s3:PutEncryptionConfiguration",
			"s3:PutLifecycleConfiguration"), list(bucket)),
		// An ephemeral stack's destroy empties its bucket (forceDestroy).
		allow("LogObjectsOfOwnBuckets", list("s3:DeleteObject", "s3:DeleteObjectVersion"), list(bucket+"/*")),
	}
	if !dns.Empty() {
		// It sits here for room: FrontDoorPolicy is at IAM's size limit, and a Deny holds from any attached policy.
		st = append(st, dnsServiceLabelsDenied())
	}
	return Managed{"frontdoor-logs", doc(st...)}
}

// dnsServiceLabelsDenied refuses every record name that DnsValidation's `_` + 32 `?` pattern could let through
// but that is no ACM validation record. IAM's `?` and `*` match dots too, so `_` + 32 characters could hold a
// shorter `_label.` (`_acme-challenge.<17 characters>`, a public CA's DNS-01 check) and a stack's name pattern
// could hold `._domainkey.` (a DKIM key that signs mail for the zone). An ACM validation name is `_` + 32 hex
// digits + `.` + the name, with no other `_` label
// (https://docs.aws.amazon.com/acm/latest/APIReference/API_ResourceRecord.html); a hostname has none at all.
func dnsServiceLabelsDenied() Statement {
	patterns := []string{"*._*"} // a `_` label after the first: `_domainkey`, `_acme-challenge`, `_dmarc`
	for n := range 32 {          // a first `_` label shorter than an ACM validation label
		patterns = append(patterns, "_"+strings.Repeat("?", n)+".*")
	}
	return Statement{Sid: "DnsNoServiceLabels", Effect: "Deny", Action: list("route53:ChangeResourceRecordSets"),
		Resource: list("*")}.when("ForAnyValue:StringLike", "route53:ChangeResourceRecordSetsNormalizedRecordNames",
		patterns...)
}
