package policy

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/components/instancetype"
	"appstack/stacks"
)

// Resource type tokens the rules look at.
const (
	Instance       = "aws:ec2/instance:Instance"
	Eip            = "aws:ec2/eip:Eip"
	SecurityGroup  = "aws:ec2/securityGroup:SecurityGroup"
	IngressRule    = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	EgressRule     = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	LegacySGRule   = "aws:ec2/securityGroupRule:SecurityGroupRule"
	Role           = "aws:iam/role:Role"
	RolePolicy     = "aws:iam/rolePolicy:RolePolicy"
	IamPolicy      = "aws:iam/policy:Policy"
	Repository     = "aws:ecr/repository:Repository"
	RepoPolicy     = "aws:ecr/repositoryPolicy:RepositoryPolicy"
	Lifecycle      = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
	Table          = "aws:dynamodb/table:Table"
	Key            = "aws:kms/key:Key"
	Parameter      = "aws:ssm/parameter:Parameter"
	LogGroup       = "aws:cloudwatch/logGroup:LogGroup"
	DockerImage    = "docker:index/image:Image"
	Topic          = "aws:sns/topic:Topic"
	Alarm          = "aws:cloudwatch/metricAlarm:MetricAlarm"
	LoadBalancer   = "aws:lb/loadBalancer:LoadBalancer"
	Listener       = "aws:lb/listener:Listener"
	TargetGroup    = "aws:lb/targetGroup:TargetGroup"
	productionEnv  = "production"
	ephemeralEnv   = "ephemeral"
	shellPortsNote = "shell access is SSM Session Manager"
)

// RequiredTags are the tag keys every taggable resource carries, so that cost reports and clean-up scripts can
// find everything a stack made (infra/appstack sets them on every component).
var RequiredTags = []string{"app", "environment", "stack", "managed-by"}

// taggable are the types that accept tags; every one must carry RequiredTags. An Auto Scaling group takes its
// tags as a list of {key, value, propagateAtLaunch}; its scaling policies and notifications take none.
var taggable = []string{Instance, Eip, SecurityGroup, IngressRule, EgressRule, Role, Repository, Table, Key,
	Parameter, LogGroup, Topic, Alarm, LoadBalancer, Listener, TargetGroup, LaunchTemplate, AutoScalingGroup}

// credentialRE finds credentials pasted into plain text (the patterns checkov's CKV_AWS_46 looks for).
var credentialRE = regexp.MustCompile(`(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|` +
	`(?i)aws_secret_access_key\s*=`)

// Rules are every rule: the single host's and the stack's, then the fleet's (policy/fleet.go).
var Rules = slices.Concat(stackRules, fleetRules)

// stackRules are the rules of every stack and of the single host, in id order.
var stackRules = []Rule{
	{ID: "APPSTACK-EC2-001", Mirrors: []string{"CKV_AWS_79", "AVD-AWS-0028"}, Severity: High,
		Title: "instance metadata requires IMDSv2 tokens", Types: []string{Instance},
		Fix: "metadataOptions.httpTokens = required (components/host sets it)",
		Check: func(r Resource, _ *Stack) []string {
			return when(str(r, "metadataOptions.httpTokens") != "required", "httpTokens is %q, not required",
				str(r, "metadataOptions.httpTokens"))
		}},
	{ID: "APPSTACK-EC2-002", Mirrors: []string{"CKV_AWS_341"}, Severity: Medium,
		Title: "instance metadata answers one network hop only", Types: []string{Instance},
		Fix: "metadataOptions.httpPutResponseHopLimit = 1; containers use host networking",
		Check: func(r Resource, _ *Stack) []string {
			hops, ok := num(r, "metadataOptions.httpPutResponseHopLimit")
			return when(!ok || hops != 1, "hop limit is %v, not 1", hops)
		}},
	{ID: "APPSTACK-EC2-003", Mirrors: []string{"CKV_AWS_8", "AVD-AWS-0131"}, Severity: High,
		Title: "the root volume is encrypted", Types: []string{Instance},
		Fix: "rootBlockDevice.encrypted = true",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "rootBlockDevice.encrypted"), "root volume is not encrypted")
		}},
	{ID: "APPSTACK-EC2-004", Mirrors: []string{"CKV_AWS_46", "AVD-AWS-0029"}, Severity: Critical,
		Title: "user-data holds no secret", Types: []string{Instance, LaunchTemplate},
		Fix: "store secrets in appstack:secrets; the host reads them from SSM Parameter Store at boot",
		Check: func(r Resource, s *Stack) []string {
			ud, err := userData(r)
			if err != nil {
				return []string{"user-data cannot be read: " + err.Error()}
			}
			if credentialRE.MatchString(ud) {
				return []string{"user-data contains a credential"}
			}
			return when(s.leaks(ud), "user-data contains the value of a secret input")
		}},
	{ID: "APPSTACK-EC2-005", Mirrors: []string{"CKV2_AWS_41"}, Severity: Medium,
		Title: "the instance has an IAM instance profile", Types: []string{Instance},
		Fix: "set iamInstanceProfile (components/identity makes one)",
		Check: func(r Resource, _ *Stack) []string {
			return when(str(r, "iamInstanceProfile") == "", "no instance profile")
		}},
	{ID: "APPSTACK-EC2-006", Mirrors: []string{"CKV_AWS_126"}, Severity: Low,
		Title: "production instances have detailed monitoring", Types: []string{Instance},
		Fix: "monitoring = true (the production profile sets instance.detailedMonitoring)",
		Check: func(r Resource, _ *Stack) []string {
			return when(environment(r) == productionEnv && !boolean(r, "monitoring"), "detailed monitoring is off")
		}},
	{ID: "APPSTACK-EC2-007", Mirrors: []string{"CKV_AWS_135"}, Severity: Low,
		Title: "the instance is EBS-optimized", Types: []string{Instance},
		Fix: "ebsOptimized = true",
		Check: func(r Resource, _ *Stack) []string {
			// A type whose EbsOptimizedSupport is unsupported cannot be: RunInstances refuses it (instancetype.EBSOptimizable).
			return when(!boolean(r, "ebsOptimized") && instancetype.EBSOptimizable(str(r, "instanceType")),
				"not EBS-optimized")
		}},
	{ID: "APPSTACK-EC2-008", Mirrors: []string{"pulumi-aws#744"}, Severity: Medium,
		Title: "security groups are attached by id", Types: []string{Instance},
		Fix: "use vpcSecurityGroupIds, never securityGroups (which forces a replacement in a VPC)",
		Check: func(r Resource, _ *Stack) []string {
			_, names := input(r, "securityGroups")
			_, ids := input(r, "vpcSecurityGroupIds")
			return when(names || !ids, "security groups not attached through vpcSecurityGroupIds")
		}},
	{ID: "APPSTACK-EC2-009", Mirrors: []string{"AVD-AWS-0131"}, Severity: Low,
		Title: "the root volume is gp3", Types: []string{Instance},
		Fix: "rootBlockDevice.volumeType = gp3",
		Check: func(r Resource, _ *Stack) []string {
			return when(str(r, "rootBlockDevice.volumeType") != "gp3", "root volume type is %q",
				str(r, "rootBlockDevice.volumeType"))
		}},
	{ID: "APPSTACK-EC2-010", Mirrors: []string{"CKV_AWS_88", "AVD-AWS-0009"}, Severity: Medium,
		Title: "the instance has no public IP", Types: []string{Instance},
		Fix: "place the host in a private subnet with a NAT gateway, or waive the rule with the reason",
		Check: func(r Resource, _ *Stack) []string {
			return when(boolean(r, "associatePublicIpAddress"), "the instance gets a public IP")
		}},
	{ID: "APPSTACK-NET-001", Mirrors: []string{"CKV_AWS_24", "AVD-AWS-0107"}, Severity: Critical,
		Title: "SSH (22) is never open", Types: []string{IngressRule, LegacySGRule},
		Fix: "remove the rule; " + shellPortsNote,
		Check: func(r Resource, _ *Stack) []string {
			return when(ingress(r) && coversPort(r, 22), "ingress covers port 22")
		}},
	{ID: "APPSTACK-NET-002", Mirrors: []string{"CKV_AWS_25", "AVD-AWS-0107"}, Severity: Critical,
		Title: "RDP (3389) is never open", Types: []string{IngressRule, LegacySGRule},
		Fix: "remove the rule; " + shellPortsNote,
		Check: func(r Resource, _ *Stack) []string {
			return when(ingress(r) && coversPort(r, 3389), "ingress covers port 3389")
		}},
	{ID: "APPSTACK-NET-003", Mirrors: []string{"CKV_AWS_277", "AVD-AWS-0107"}, Severity: Critical,
		Title: "no ingress of every port from the internet", Types: []string{IngressRule, LegacySGRule},
		Fix: "open single service ports only",
		Check: func(r Resource, _ *Stack) []string {
			return when(ingress(r) && allPorts(r) && fromWorld(r), "all ports open to the internet")
		}},
	{ID: "APPSTACK-NET-004", Mirrors: []string{"CKV_AWS_382", "AVD-AWS-0104"}, Severity: High,
		Title: "egress is not unrestricted", Types: []string{EgressRule, LegacySGRule},
		Fix: "allow only the ports the host needs (HTTPS, 443)",
		Check: func(r Resource, _ *Stack) []string {
			return when(!ingress(r) && allPorts(r) && fromWorld(r), "all ports open to the internet outbound")
		}},
	{ID: stacks.PublicIngressRule, Mirrors: []string{"AVD-AWS-0107", "CKV_AWS_260"}, Severity: High,
		Title: "no ingress from the whole internet", Types: []string{IngressRule, LegacySGRule},
		Fix: "list the networks that need the service in appstack:ingressCidrs, or waive the rule with the reason",
		Check: func(r Resource, _ *Stack) []string {
			return when(ingress(r) && fromWorld(r), "ingress from the whole internet")
		}},
	// Service ports are 1024-65535 (stacks validates it), so a rule of ports 80 and 443 only is the front door's,
	// whose port 80 APPSTACK-ELB-001 wants redirected to HTTPS; the rule needs no other resource, so the policy
	// pack enforces it too.
	{ID: "APPSTACK-NET-008", Mirrors: []string{"appstack", "AVD-AWS-0054"}, Severity: High,
		Title: "production does not serve plain HTTP to the whole internet", Types: []string{IngressRule, LegacySGRule},
		Fix: "set appstack:domain to serve HTTPS through the front door, or list the networks that need the " +
			"service in appstack:ingressCidrs, or waive the rule with the reason",
		Check: func(r Resource, _ *Stack) []string {
			from, to, _ := ports(r)
			frontDoor := (from == 80 || from == 443) && (to == 80 || to == 443)
			if environment(r) != productionEnv || !ingress(r) || !fromWorld(r) || frontDoor {
				return nil
			}
			if from == to {
				return when(true, "production serves port %g to the whole internet without TLS", from)
			}
			return when(true, "production serves ports %g-%g to the whole internet without TLS", from, to)
		}},
	{ID: "APPSTACK-NET-005", Mirrors: []string{"CKV_AWS_23"}, Severity: Low,
		Title: "security groups and rules have descriptions",
		Types: []string{SecurityGroup, IngressRule, EgressRule, LegacySGRule},
		Fix:   "set description",
		Check: func(r Resource, _ *Stack) []string {
			return when(strings.TrimSpace(str(r, "description")) == "", "no description")
		}},
	{ID: "APPSTACK-NET-006", Mirrors: []string{"awsguard:security-group-no-inline-rules"}, Severity: Medium,
		Title: "security groups do not mix inline and standalone rules", Types: []string{SecurityGroup},
		Fix: "declare every rule as a standalone rule resource",
		Check: func(r Resource, _ *Stack) []string {
			var out []string
			for _, k := range []string{"ingress", "egress"} {
				if v, ok := input(r, k); ok && v.IsArray() && len(v.ArrayValue()) > 0 {
					out = append(out, "inline "+k+" rules")
				}
			}
			return out
		}},
	{ID: "APPSTACK-IAM-001", Mirrors: []string{"CKV_AWS_60", "CKV_AWS_61"}, Severity: High,
		Title: "roles are trusted only by named services", Types: []string{Role},
		Fix: "trust only ec2.amazonaws.com",
		Check: func(r Resource, _ *Stack) []string {
			var out []string
			for _, st := range statements(str(r, "assumeRolePolicy")) {
				p, _ := json.Marshal(st.Principal)
				if st.Principal == nil || strings.Contains(string(p), `"*"`) || strings.Contains(string(p), `"AWS"`) {
					out = append(out, "trusts "+string(p))
				}
			}
			return out
		}},
	{ID: "APPSTACK-IAM-002", Mirrors: []string{"CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_49", "CKV_AWS_274"},
		Severity: Critical, Title: "no policy grants a wildcard action", Types: []string{RolePolicy, IamPolicy},
		Fix: "list the actions the service needs",
		Check: func(r Resource, _ *Stack) []string {
			var out []string
			for _, st := range statements(str(r, "policy")) {
				for _, a := range st.Actions() {
					if strings.Contains(a, "*") {
						out = append(out, fmt.Sprintf("statement %q allows %s", st.Sid, a))
					}
				}
			}
			return out
		}},
	{ID: "APPSTACK-IAM-003", Mirrors: []string{"CKV_AWS_355", "CKV_AWS_356"}, Severity: High,
		Title: `no "*" resource for actions that can be scoped`, Types: []string{RolePolicy, IamPolicy},
		Fix: "name the stack's resources; only ecr:GetAuthorizationToken takes *",
		Check: func(r Resource, _ *Stack) []string {
			var out []string
			for _, st := range statements(str(r, "policy")) {
				for _, a := range st.Actions() {
					if slices.Contains(st.Resources(), "*") && a != "ecr:GetAuthorizationToken" {
						out = append(out, fmt.Sprintf("statement %q allows %s on *", st.Sid, a))
					}
				}
			}
			return out
		}},
	{ID: "APPSTACK-IAM-004", Mirrors: []string{"appstack"}, Severity: Critical,
		Title: "every IAM role carries a permissions boundary", Types: []string{Role},
		Fix: "components/identity sets permissionsBoundary: the bootstrap's appstack-host-boundary, or " +
			"appstack:permissionsBoundary; the CI deploy roles cannot create a role without it",
		Check: func(r Resource, _ *Stack) []string {
			if unknown(r, "permissionsBoundary") {
				// Unknown in a preview (it is read from the account); the deploy checks the value.
				return nil
			}
			return when(str(r, "permissionsBoundary") == "", "the role has no permissions boundary")
		}},
	{ID: "APPSTACK-ECR-001", Mirrors: []string{"CKV_AWS_51", "AVD-AWS-0031"}, Severity: High,
		Title: "image tags are immutable", Types: []string{Repository},
		Fix: "imageTagMutability = IMMUTABLE",
		AdoptedFix: "set services[].adoptRepository.mutability: IMMUTABLE; the next up changes it in place " +
			"(PutImageTagMutability), and a tag pushed again is then refused",
		Check: func(r Resource, _ *Stack) []string {
			if r.Import != "" && str(r, "imageTagMutability") == "" {
				return []string{"the repository keeps the tag mutability it has, which may be MUTABLE"}
			}
			return when(str(r, "imageTagMutability") != "IMMUTABLE", "tags are mutable")
		}},
	{ID: "APPSTACK-ECR-002", Mirrors: []string{"CKV_AWS_163", "AVD-AWS-0030"}, Severity: Medium,
		Title: "images are scanned on push", Types: []string{Repository},
		Fix: "imageScanningConfiguration.scanOnPush = true",
		AdoptedFix: "set services[].adoptRepository.scanOnPush: true; the next up changes it in place " +
			"(PutImageScanningConfiguration)",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "imageScanningConfiguration.scanOnPush"), "scan on push is off")
		}},
	{ID: "APPSTACK-ECR-003", Mirrors: []string{"CKV_AWS_136", "AVD-AWS-0033"}, Severity: Medium,
		Title: "images are encrypted with KMS", Types: []string{Repository},
		Fix: "encryptionConfigurations[0].encryptionType = KMS",
		AdoptedFix: "ECR cannot change a repository's encryption: drop adoptRepository so that appstack creates " +
			"a KMS-encrypted repository and pushes the images again, or waive the rule with the reason",
		Check: func(r Resource, _ *Stack) []string {
			return when(str(r, "encryptionConfigurations[0].encryptionType") != "KMS", "not KMS-encrypted")
		}},
	{ID: "APPSTACK-ECR-004", Mirrors: []string{"CKV_AWS_32", "AVD-AWS-0032"}, Severity: Critical,
		Title: "repositories are not public", Types: []string{RepoPolicy},
		Fix: "remove the wildcard principal from the repository policy",
		Check: func(r Resource, _ *Stack) []string {
			var out []string
			for _, st := range statements(str(r, "policy")) {
				if p, _ := json.Marshal(st.Principal); strings.Contains(string(p), `"*"`) {
					out = append(out, "the repository policy allows any principal")
				}
			}
			return out
		}},
	{ID: "APPSTACK-ECR-005", Mirrors: []string{"appstack"}, Severity: High,
		Title: "force-delete only in ephemeral stacks", Types: []string{Repository},
		Fix: "forceDelete = false outside the ephemeral profile, so a destroy never loses rollback images",
		Check: func(r Resource, _ *Stack) []string {
			return when(boolean(r, "forceDelete") && environment(r) != ephemeralEnv,
				"forceDelete in a %q stack", environment(r))
		}},
	{ID: "APPSTACK-ECR-006", Mirrors: []string{"appstack"}, Severity: Medium,
		Title: "every repository has a lifecycle policy", Types: []string{Repository},
		Fix: "add an ecr.LifecyclePolicy (components/registry keeps the last N images)",
		AdoptedFix: "set services[].adoptRepository.lifecyclePolicy: true once the repository's older images " +
			"may expire (untagged after a day, all but the newest keepImages)",
		Check: func(r Resource, s *Stack) []string {
			name := r.Outputs["name"]
			for _, lp := range s.Resources {
				if lp.Type == Lifecycle && name.IsString() && str(lp, "repository") == name.StringValue() {
					return nil
				}
			}
			return []string{"no lifecycle policy: images pile up and rollbacks are not bounded"}
		}},
	{ID: "APPSTACK-DDB-001", Mirrors: []string{"CKV_AWS_28", "AVD-AWS-0024"}, Severity: High,
		Title: "tables have point-in-time recovery", Types: []string{Table},
		Fix: "pointInTimeRecovery.enabled = true",
		AdoptedFix: "set tables[].adopt.pointInTimeRecovery: true; the next up turns it on in place " +
			"(UpdateContinuousBackups), data untouched",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "pointInTimeRecovery.enabled"), "point-in-time recovery is off")
		}},
	{ID: "APPSTACK-DDB-002", Mirrors: []string{"CKV_AWS_119", "AVD-AWS-0025"}, Severity: Medium,
		Title: "tables are encrypted with a customer-managed key", Types: []string{Table},
		Fix: "serverSideEncryption {enabled: true, kmsKeyArn: the stack's key}",
		AdoptedFix: "set tables[].adopt.encryption: stack-key; the next up switches the table to the stack's key " +
			"in place (UpdateTable SSESpecification), data untouched",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "serverSideEncryption.enabled") || str(r, "serverSideEncryption.kmsKeyArn") == "",
				"not encrypted with a customer-managed key")
		}},
	{ID: "APPSTACK-DDB-003", Mirrors: []string{"awsguard:dynamodb-table-deletion-protection"}, Severity: Critical,
		Title: "production tables are protected and retained", Types: []string{Table},
		Fix: "deletionProtectionEnabled, pulumi.Protect and RetainOnDelete (the production profile sets them)",
		Check: func(r Resource, _ *Stack) []string {
			if environment(r) != productionEnv {
				return nil
			}
			return when(!boolean(r, "deletionProtectionEnabled") || !r.Protect || !r.RetainOnDelete,
				"deletionProtection=%t protect=%t retainOnDelete=%t", boolean(r, "deletionProtectionEnabled"),
				r.Protect, r.RetainOnDelete)
		}},
	{ID: "APPSTACK-KMS-001", Mirrors: []string{"CKV_AWS_7", "AVD-AWS-0065"}, Severity: Medium,
		Title: "KMS keys rotate", Types: []string{Key},
		Fix: "enableKeyRotation = true",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "enableKeyRotation"), "rotation is off")
		}},
	{ID: "APPSTACK-KMS-002", Mirrors: []string{"securityhub:KMS.3", "awsconfig:kms-cmk-not-scheduled-for-deletion"},
		Severity: Critical, Title: "the key of protected tables, and production's key, are protected and retained",
		Types: []string{Key},
		Fix: "pulumi.Protect and RetainOnDelete on the key (components/secrets sets them when the profile protects): " +
			"a deleted key is disabled at once and DynamoDB archives a table whose key stays inaccessible for 7 days",
		Check: func(r Resource, s *Stack) []string {
			var why []string
			if environment(r) == productionEnv {
				why = append(why, "it is production's key")
			}
			if arn := r.Outputs["arn"]; arn.IsString() {
				for _, t := range s.Resources {
					if t.Type == Table && t.Protect && str(t, "serverSideEncryption.kmsKeyArn") == arn.StringValue() {
						why = append(why, "it encrypts protected table "+t.Name)
					}
				}
			}
			if len(why) == 0 || (r.Protect && r.RetainOnDelete) {
				return nil
			}
			return []string{fmt.Sprintf("protect=%t retainOnDelete=%t, but %s", r.Protect, r.RetainOnDelete,
				strings.Join(why, " and "))}
		}},
	{ID: "APPSTACK-KMS-003", Mirrors: []string{"kics:7ebc9038-0bde-479a-acc4-6ed7b6758899"},
		Severity: High,
		Title:    "the stack key's policy keeps the account statement and grants no wildcard to anyone else",
		Types:    []string{Key},
		Fix: "components/secrets KeyPolicy: the account root with kms:* (AWS's default statement), the deploying " +
			"role with the actions the deploy needs, services by name; no other kms:*, NotAction or \"*\" principal",
		Check: func(r Resource, _ *Stack) []string {
			doc := str(r, "policy")
			if doc == Unknown {
				return nil // a preview before the account and the deployer are known
			}
			if doc == "" {
				return []string{"the key has no explicit key policy (the deploying role would wait for tags)"}
			}
			var out []string
			root := false
			for _, st := range statements(doc) {
				p, _ := json.Marshal(st.Principal)
				accountRoot := false
				if m, ok := st.Principal.(map[string]any); ok {
					a, _ := m["AWS"].(string)
					accountRoot = strings.HasPrefix(a, "arn:") && strings.HasSuffix(a, ":root")
				}
				if accountRoot && st.Effect == "Allow" && slices.Equal(st.Actions(), []string{"kms:*"}) {
					root = true
					continue
				}
				if st.Effect != "Allow" {
					continue
				}
				if st.NotAction != nil || st.NotPrincipal != nil {
					out = append(out, fmt.Sprintf("statement %q uses NotAction or NotPrincipal", st.Sid))
				}
				if strings.Contains(string(p), `"*"`) {
					out = append(out, fmt.Sprintf("statement %q allows the principal *", st.Sid))
				}
				for _, a := range st.Actions() {
					if strings.Contains(a, "*") {
						out = append(out, fmt.Sprintf("statement %q allows %s to %s", st.Sid, a, p))
					}
				}
			}
			if !root {
				out = append(out, "no statement lets the account administer the key through IAM")
			}
			return out
		}},
	{ID: "APPSTACK-SSM-001", Mirrors: []string{"appstack"}, Severity: Critical,
		Title: "parameters are SecureStrings under the stack's key, with secret values", Types: []string{Parameter},
		Fix: "type = SecureString, keyId = the stack's key, value from config.RequireSecret",
		Check: func(r Resource, _ *Stack) []string {
			v, _ := Lookup(r.Inputs, "value")
			return when(str(r, "type") != "SecureString" || str(r, "keyId") == "" || !v.IsSecret(),
				"type=%s keyId=%q secret=%t", str(r, "type"), str(r, "keyId"), v.IsSecret())
		}},
	{ID: "APPSTACK-SNS-001", Mirrors: []string{"CKV_AWS_26", "AVD-AWS-0095"}, Severity: Medium,
		Title: "alarm topics are encrypted", Types: []string{Topic},
		Fix: "kmsMasterKeyId = the stack's key (whose policy lets CloudWatch use it)",
		Check: func(r Resource, _ *Stack) []string {
			return when(str(r, "kmsMasterKeyId") == "", "the topic is not encrypted")
		}},
	{ID: "APPSTACK-SEC-001", Mirrors: []string{"CKV_AWS_46"}, Severity: Critical,
		Title: "no secret value appears in a plain input",
		Types: []string{Instance, Eip, SecurityGroup, IngressRule, EgressRule, Role, RolePolicy, Repository,
			Lifecycle, Table, Key, Parameter, LogGroup, DockerImage, Topic, Alarm, LaunchTemplate, AutoScalingGroup,
			ScalingPolicy, ScalingNotification},
		Fix: "pass secrets as secret outputs end to end",
		Check: func(r Resource, s *Stack) []string {
			var out []string
			for k, v := range r.Inputs {
				walk(v, false, func(leaf resource.PropertyValue, secret bool) {
					if !secret && leaf.IsString() && s.leaks(leaf.StringValue()) {
						out = append(out, fmt.Sprintf("input %s holds a secret value in plain text", k))
					}
				})
			}
			slices.Sort(out)
			return slices.Compact(out)
		}},
	{ID: "APPSTACK-LOG-001", Mirrors: []string{"CKV_AWS_66"}, Severity: Low,
		Title: "log groups have a retention period", Types: []string{LogGroup},
		Fix: "retentionInDays (the profile sets it)",
		Check: func(r Resource, _ *Stack) []string {
			days, ok := num(r, "retentionInDays")
			return when(!ok || days <= 0, "logs are kept forever")
		}},
	{ID: "APPSTACK-EIP-001", Mirrors: []string{"appstack"}, Severity: High,
		Title: "the production address is protected", Types: []string{Eip},
		Fix: "pulumi.Protect on the Elastic IP (the production profile sets it)",
		Check: func(r Resource, _ *Stack) []string {
			return when(environment(r) == productionEnv && !r.Protect, "the production Elastic IP is not protected")
		}},
	{ID: "APPSTACK-ELB-001", Mirrors: []string{"CKV_AWS_2", "CKV2_AWS_20", "AVD-AWS-0054"}, Severity: High,
		Title: "load balancer listeners serve HTTPS, or redirect plain HTTP to HTTPS", Types: loadBalancerListeners,
		Fix: "protocol = HTTPS, or a default action that redirects to HTTPS (components/frontdoor does both)",
		Check: func(r Resource, _ *Stack) []string {
			proto := str(r, "protocol")
			return when(proto == "HTTP" && !redirectsToHTTPS(r), "an HTTP listener that does not redirect to HTTPS")
		}},
	{ID: "APPSTACK-ELB-002", Mirrors: []string{"CKV_AWS_103", "AVD-AWS-0047"}, Severity: High,
		Title: "HTTPS listeners accept TLS 1.2 or newer only", Types: loadBalancerListeners,
		Fix: "sslPolicy = " + tlsPolicyNote,
		Check: func(r Resource, _ *Stack) []string {
			p := str(r, "sslPolicy")
			return when(str(r, "protocol") == "HTTPS" && !modernTLSPolicy(p), "TLS policy %q allows TLS older than 1.2",
				p)
		}},
	{ID: "APPSTACK-ELB-003", Mirrors: []string{"CKV_AWS_131", "AVD-AWS-0052"}, Severity: Medium,
		Title: "the load balancer drops invalid HTTP header fields", Types: loadBalancers,
		Fix: "dropInvalidHeaderFields = true",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "dropInvalidHeaderFields"), "invalid header fields are passed to the services")
		}},
	{ID: "APPSTACK-ELB-004", Mirrors: []string{"CKV_AWS_91"}, Severity: Medium,
		Title: "the load balancer writes access logs", Types: loadBalancers,
		Fix: "accessLogs.enabled = true with a bucket (components/frontdoor makes one)",
		Check: func(r Resource, _ *Stack) []string {
			return when(!boolean(r, "accessLogs.enabled") || str(r, "accessLogs.bucket") == "", "no access logs")
		}},
	{ID: "APPSTACK-ELB-005", Mirrors: []string{"CKV_AWS_150"}, Severity: High,
		Title: "the production load balancer has deletion protection", Types: loadBalancers,
		Fix: "enableDeletionProtection = true (the production profile sets it)",
		Check: func(r Resource, _ *Stack) []string {
			return when(environment(r) == productionEnv && !boolean(r, "enableDeletionProtection"),
				"the production load balancer can be deleted")
		}},
	{ID: "APPSTACK-ELB-006", Mirrors: []string{"appstack", "AVD-AWS-0107"}, Severity: High,
		Title: "behind a load balancer the host's ports admit only the load balancer", Types: []string{IngressRule},
		Fix: "admit the service ports from the front door's security group (referencedSecurityGroupId), not from " +
			"CIDRs: components/network does when appstack:domain is set",
		Check: func(r Resource, s *Stack) []string {
			groups := s.loadBalancerGroups()
			if len(groups) == 0 || groups[str(r, "securityGroupId")] {
				return nil
			}
			cidr := str(r, "cidrIpv4") + str(r, "cidrIpv6")
			return when(cidr != "", "the origin admits %s directly, around the front door", cidr)
		}},
	{ID: "APPSTACK-ELB-007", Mirrors: []string{"appstack", "OWASP HSTS"}, Severity: Medium,
		Title: "HTTPS listeners send Strict-Transport-Security", Types: loadBalancerListeners,
		Fix: "routingHttpResponseStrictTransportSecurityHeaderValue = \"max-age=31536000; includeSubDomains\"",
		Check: func(r Resource, _ *Stack) []string {
			if str(r, "protocol") != "HTTPS" {
				return nil
			}
			h := str(r, "routingHttpResponseStrictTransportSecurityHeaderValue")
			return when(hstsMaxAge(h) < 31536000, "HSTS header %q is missing or shorter than a year", h)
		}},
	{ID: "APPSTACK-TAG-001", Mirrors: []string{"awsguard:required-tags"}, Severity: Low,
		Title: "taggable resources carry the app, environment, stack and managed-by tags", Types: taggable,
		Fix: "pass the stack's tags to every taggable resource (to an Auto Scaling group as a list of {key, value, " +
			"propagateAtLaunch}); an instance passes them as volumeTags too",
		Check: func(r Resource, _ *Stack) []string {
			var missing, volume []string
			for _, k := range RequiredTags {
				if tagValue(r, k) == "" && !unknown(r, "tags") {
					missing = append(missing, k)
				}
				// An instance's volumes are tagged in the launch itself only through volumeTags (rootBlockDevice
				// tags follow with CreateTags: terraform-provider-aws ec2_instance.go, resourceInstanceCreate), and
				// the CI roles launch only volumes that carry their stack's tag.
				if r.Type == Instance && str(r, "volumeTags."+k) == "" {
					volume = append(volume, k)
				}
			}
			return append(when(len(missing) > 0, "missing tags %s", strings.Join(missing, ", ")),
				when(len(volume) > 0, "its volumes are launched without the tags %s (volumeTags)",
					strings.Join(volume, ", "))...)
		}},
}

// The load balancer types, under both of the provider's modules.
var (
	loadBalancers         = []string{LoadBalancer, "aws:alb/loadBalancer:LoadBalancer"}
	loadBalancerListeners = []string{Listener, "aws:alb/listener:Listener"}
)

// tlsPolicyNote names the policies APPSTACK-ELB-002 accepts.
const tlsPolicyNote = "ELBSecurityPolicy-TLS13-1-2-2021-06 (AWS's recommended policy) or another " +
	"ELBSecurityPolicy-TLS13-1-2-*, ELBSecurityPolicy-TLS13-1-3-*, ELBSecurityPolicy-TLS-1-2-* or " +
	"ELBSecurityPolicy-FS-1-2-* policy"

// modernTLSPolicy reports whether an ELB security policy refuses TLS 1.0 and 1.1: the policies named TLS13-1-2,
// TLS13-1-3, TLS-1-2 and FS-1-2 (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
func modernTLSPolicy(p string) bool {
	for _, prefix := range []string{"ELBSecurityPolicy-TLS13-1-2-", "ELBSecurityPolicy-TLS13-1-3-",
		"ELBSecurityPolicy-TLS-1-2-", "ELBSecurityPolicy-FS-1-2-"} {
		if strings.HasPrefix(p, prefix) && !strings.Contains(p, "-Ext") {
			return true
		}
	}
	return false
}

// redirectsToHTTPS reports whether a listener's default action is a redirect to HTTPS.
func redirectsToHTTPS(r Resource) bool {
	v, ok := input(r, "defaultActions")
	if !ok || !v.IsArray() {
		return false
	}
	for _, a := range v.ArrayValue() {
		if !a.IsObject() {
			continue
		}
		action := Resource{Inputs: a.ObjectValue()}
		if str(action, "type") == "redirect" && str(action, "redirect.protocol") == "HTTPS" {
			return true
		}
	}
	return false
}

// hstsMaxAge reads max-age from a Strict-Transport-Security value; 0 when there is none.
func hstsMaxAge(h string) int {
	for _, part := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "max-age") {
			n := 0
			for _, c := range v {
				if c < '0' || c > '9' {
					return 0
				}
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return 0
}

// loadBalancerGroups are the security groups of the stack's load balancers.
func (s *Stack) loadBalancerGroups() map[string]bool {
	out := map[string]bool{}
	for _, r := range s.Resources {
		if !slices.Contains(loadBalancers, r.Type) {
			continue
		}
		if v, ok := input(r, "securityGroups"); ok && v.IsArray() {
			for _, g := range v.ArrayValue() {
				if g.IsString() {
					out[g.StringValue()] = true
				}
			}
		}
	}
	return out
}

// userData is an instance's boot script, plain or unpacked from gzipped userDataBase64, or a launch template's,
// which is always base64 (gzipped or not).
func userData(r Resource) (string, error) {
	b64 := str(r, "userDataBase64")
	if r.Type == LaunchTemplate {
		b64 = str(r, "userData")
	} else if ud := str(r, "userData"); ud != "" {
		return ud, nil
	}
	if b64 == "" || b64 == Unknown {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return string(raw), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	return string(out), err
}

// leaks reports whether text contains the plaintext of any secret input.
func (s *Stack) leaks(text string) bool {
	for _, secret := range s.secrets {
		if strings.Contains(text, secret) {
			return true
		}
	}
	return false
}

func ingress(r Resource) bool {
	return r.Type == IngressRule || (r.Type == LegacySGRule && str(r, "type") == "ingress")
}

func ports(r Resource) (from, to float64, all bool) {
	proto := str(r, "ipProtocol")
	if r.Type == LegacySGRule {
		proto = str(r, "protocol")
	}
	if proto == "-1" || proto == "all" {
		return 0, 65535, true
	}
	from, _ = num(r, "fromPort")
	to, _ = num(r, "toPort")
	return from, to, from <= 1 && to >= 65535
}

func coversPort(r Resource, port float64) bool {
	from, to, _ := ports(r)
	return from <= port && port <= to
}

func allPorts(r Resource) bool {
	_, _, all := ports(r)
	return all
}

func fromWorld(r Resource) bool {
	cidrs := []string{str(r, "cidrIpv4"), str(r, "cidrIpv6")}
	if v, ok := input(r, "cidrBlocks"); ok && v.IsArray() {
		for _, c := range v.ArrayValue() {
			if c.IsString() {
				cidrs = append(cidrs, c.StringValue())
			}
		}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Bits() == 0 {
			return true
		}
	}
	return false
}

// statement is one IAM statement with its one-or-many fields left raw.
type statement struct {
	Sid          string
	Effect       string
	Principal    any
	NotPrincipal any
	Action       any
	NotAction    any
	Resource     any
}

func (s statement) Actions() []string   { return oneOrMany(s.Action) }
func (s statement) Resources() []string { return oneOrMany(s.Resource) }

func oneOrMany(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func statements(doc string) []statement {
	var p struct{ Statement []statement }
	if json.Unmarshal([]byte(doc), &p) != nil {
		return nil
	}
	return p.Statement
}
