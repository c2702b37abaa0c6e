// Package stacks holds appstack's typed stack configuration: the environment profiles that supply defaults, the
// loader that reads the `appstack:` config namespace, and the validation that rejects bad input before any
// resource is registered.
package stacks

import (
	"fmt"
	"time"
)

// Namespace is the Pulumi config namespace every appstack key lives in.
const Namespace = "appstack"

// Environment names a profile of defaults. Behaviour follows this field, never the stack's name.
type Environment string

// The environments a stack may declare in `appstack:environment`.
const (
	Staging    Environment = "staging"
	Production Environment = "production"
	// Ephemeral is for throw-away stacks, such as one per pull request: small, unprotected, force-deletable.
	Ephemeral Environment = "ephemeral"
)

// Environments lists every valid environment, in the order the docs present them.
var Environments = []Environment{Staging, Production, Ephemeral}

// Config is one stack's complete, validated configuration. Secret values are never held here: only their names.
type Config struct {
	// Environment picks the profile of defaults. Required.
	Environment Environment `json:"environment"`
	// Region is the AWS region (`aws:region`). Required.
	Region string `json:"-"`
	// Services are the containers the host runs. At least one.
	Services []Service `json:"services"`
	// Tables are the DynamoDB tables the services use. May be empty.
	Tables []Table `json:"tables"`
	// Instance is the EC2 host's shape. Defaults come from the profile.
	Instance Instance `json:"instance"`
	// IngressCidrs may reach the service ports. Required: there is no default audience.
	IngressCidrs []string `json:"ingressCidrs"`
	// Waivers accept a policy rule's finding for a stated reason; a whole-internet CIDR (0.0.0.0/0 or ::/0) in
	// IngressCidrs needs a waiver of PublicIngressRule.
	Waivers Waivers `json:"waivers"`
	// VpcID places the host in this VPC. Optional (default VPC); required together with SubnetID.
	VpcID string `json:"vpcId"`
	// SubnetID places the host in this subnet. Optional (default subnet); required together with VpcID.
	SubnetID string `json:"subnetId"`
	// KeepImages is how many images each ECR repository keeps for rollbacks. Default 10.
	KeepImages int `json:"keepImages"`
	// ReadyTimeout bounds how long a deploy waits for a new host to signal readiness. Default 10 minutes.
	ReadyTimeout time.Duration `json:"readyTimeout"`
	// ExpiresAt is when the reaper may destroy an ephemeral stack (RFC 3339). Ephemeral stacks only.
	ExpiresAt time.Time `json:"expiresAt"`
	// AlarmEmail receives the host's status-check alarms through an SNS topic. Optional.
	AlarmEmail string `json:"alarmEmail"`
	// LogRetentionDays is how long the stack's CloudWatch log group keeps logs. Default from the profile.
	LogRetentionDays int `json:"logRetentionDays"`
	// Domain is a public Route 53 hosted zone of the account. Set, it puts the services behind the HTTPS front
	// door (an Application Load Balancer with ACM certificates), one hostname per service. Optional: without
	// it the services are plain HTTP on the host's address.
	Domain string `json:"domain"`
	// IdleTimeout is how long the front door keeps an idle connection (a quiet WebSocket) open. Default 10m.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// FrontDoorSubnetIDs are the front door's subnets, in two or more Availability Zones. Only with VpcID and
	// Domain; in the default VPC its default subnets are looked up.
	FrontDoorSubnetIDs []string `json:"frontDoorSubnetIds"`
	// Hosting is single (one EC2 host, the default) or fleet (an Auto Scaling group behind the front door).
	Hosting string `json:"hosting"`
	// Fleet is the Auto Scaling group's shape. Only with Hosting fleet; defaults filled by Load.
	Fleet *Fleet `json:"fleet"`
	// AdoptAddress is the allocation id (eipalloc-...) of an existing Elastic IP the stack adopts with pulumi
	// import, keeping the address its users know, instead of allocating one. Optional.
	AdoptAddress string `json:"adoptAddress"`
	// PermissionsBoundary is the ARN of the managed policy every IAM role the stack creates carries. Optional:
	// by default the bootstrap's arn:<partition>:iam::<account>:policy/appstack/appstack-host-boundary in the
	// stack's own account.
	PermissionsBoundary string `json:"permissionsBoundary"`
	// Protect marks data and the stable address (tables, the Elastic IP) protected and retained on delete.
	// Set by the profile only: on in production.
	Protect bool `json:"-"`
	// ForceDelete lets `pulumi destroy` delete ECR repositories that still hold images. Only ephemeral stacks.
	ForceDelete bool `json:"-"`
	// InstanceAlarms lets the host's status-check alarms recover and reboot it (EC2 alarm actions). Set by the
	// profile only: on in staging and production, off in ephemeral stacks, whose deploy role may not create
	// alarms with EC2 actions (no IAM condition sees which instance such an alarm acts on, so the bootstrap
	// gives that right only to the roles whose stacks need it: bootstrap Spec.InstanceAlarms).
	InstanceAlarms bool `json:"-"`
	// SecretNames are the names set in `appstack:secrets`, sorted. The values stay in Pulumi's secret config.
	SecretNames []string `json:"-"`
}

// DefaultIdleTimeout is the front door's idle timeout unless appstack:idleTimeout says otherwise: long enough
// for a WebSocket that is quiet for minutes (the load balancer's own default is 60 seconds).
const DefaultIdleTimeout = 10 * time.Minute

// PublicIngressRule is the policy rule a whole-internet ingress CIDR must be waived under.
const PublicIngressRule = "APPSTACK-NET-007"

// Waiver accepts the findings of one policy rule, for a reason the preview prints.
type Waiver struct {
	// Rule is the policy rule's id, such as APPSTACK-NET-007. Required.
	Rule string `json:"rule"`
	// Reason says why the finding is accepted. Required.
	Reason string `json:"reason"`
}

// Waivers are a stack's accepted findings.
type Waivers []Waiver

// Find returns the waiver of rule, if any.
func (ws Waivers) Find(rule string) (Waiver, bool) {
	for _, w := range ws {
		if w.Rule == rule {
			return w, true
		}
	}
	return Waiver{}, false
}

// Waived returns the stack's waiver of rule, if any.
func (c *Config) Waived(rule string) (Waiver, bool) { return c.Waivers.Find(rule) }

// Service is one container the host runs.
type Service struct {
	// Name identifies the service in resource names, unit names and outputs. Required, lower-case, unique.
	Name string `json:"name"`
	// Port is the TCP port the container listens on (host networking). Required, 1024-65535, unique.
	Port int `json:"port"`
	// HealthPath answers liveness. Default /health.
	HealthPath string `json:"healthPath"`
	// ReadyPath answers readiness. Default /ready.
	ReadyPath string `json:"readyPath"`
	// Build builds the image from a Dockerfile and pushes it to the service's ECR repository. One of Build, Image.
	Build *Build `json:"build,omitempty"`
	// Image is a prebuilt image pinned by digest (`name@sha256:...`). One of Build, Image.
	Image string `json:"image,omitempty"`
	// Env is plain environment for the container. Never put secrets here: use Secrets.
	Env map[string]string `json:"env,omitempty"`
	// Secrets names entries of `appstack:secrets` the container receives as environment variables.
	Secrets []string `json:"secrets,omitempty"`
	// Hostname is the service's name under Domain. Default `<name>.<domain>`; ephemeral stacks put their stack
	// name before the domain (`<name>.<stack>.<domain>`). Only with Domain.
	Hostname string `json:"hostname,omitempty"`
	// RegistryAuth logs the host in to Image's private registry (other than ECR, which the host's role
	// reaches) before the pull. Optional; only with Image.
	RegistryAuth *RegistryAuth `json:"registryAuth,omitempty"`
	// AdoptRepository adopts an existing ECR repository (pulumi import) as the service's repository instead of
	// creating one. Optional.
	AdoptRepository *RepositoryAdoption `json:"adoptRepository,omitempty"`
}

// RepositoryAdoption names an existing ECR repository and states the settings it has, so that the adoption
// changes nothing the owner did not ask for; the policy flags each setting that misses appstack's default.
type RepositoryAdoption struct {
	// Name is the repository's name, by ECR's rules. Required.
	Name string `json:"name"`
	// Mutability is the tag mutability the stack sets, IMMUTABLE or MUTABLE. Default: none, the repository
	// keeps the one it has (a pipeline that pushes a moving tag such as latest goes on working).
	Mutability string `json:"mutability,omitempty"`
	// ScanOnPush says whether the repository scans images on push. Default true.
	ScanOnPush *bool `json:"scanOnPush,omitempty"`
	// Encryption is the repository's encryption, KMS or AES256 (ECR cannot change it in place). Default KMS.
	Encryption string `json:"encryption,omitempty"`
	// LifecyclePolicy puts appstack's lifecycle policy on the repository (untagged images expire after a day,
	// only the newest keepImages are kept). Default false: an adopted repository's history is the owner's.
	LifecyclePolicy bool `json:"lifecyclePolicy,omitempty"`
}

// TableAdoption names an existing DynamoDB table and states the settings it has, so that the adoption changes
// nothing the owner did not ask for; the policy flags each setting that misses appstack's default.
type TableAdoption struct {
	// Name is the table's physical name, by DynamoDB's rules (3-255 of a-z, A-Z, 0-9, _, -, .). Required.
	Name string `json:"name"`
	// PointInTimeRecovery says whether the table has point-in-time recovery on. Default true.
	PointInTimeRecovery *bool `json:"pointInTimeRecovery,omitempty"`
	// Encryption is stack-key (the stack's KMS key) or aws-owned (DynamoDB's default). Default stack-key; the
	// stack's key is then retained on delete in every environment, so that the table stays readable after a
	// destroy.
	Encryption string `json:"encryption,omitempty"`
	// Stream is the view type of the table's stream (NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES or KEYS_ONLY).
	// Default: no stream; a table that has one must state it, or the first up turns it off.
	Stream string `json:"stream,omitempty"`
	// BillingMode is PAY_PER_REQUEST or PROVISIONED (then readCapacity and writeCapacity are required).
	// Default PAY_PER_REQUEST; a provisioned table must state it, or the first up makes it on-demand.
	BillingMode string `json:"billingMode,omitempty"`
	// ReadCapacity and WriteCapacity are a PROVISIONED table's capacity units. Required with PROVISIONED.
	ReadCapacity  int `json:"readCapacity,omitempty"`
	WriteCapacity int `json:"writeCapacity,omitempty"`
	// LocalSecondaryIndexes are the table's local secondary indexes, exactly as it has them: DynamoDB cannot
	// add or remove one, so a difference would replace the table, which an adoption refuses. Optional.
	LocalSecondaryIndexes []LocalIndex `json:"localSecondaryIndexes,omitempty"`
}

// LocalIndex is one local secondary index of an adopted table.
type LocalIndex struct {
	// Name is the index's name. Required.
	Name string `json:"name"`
	// RangeKey is the index's sort key attribute. Required.
	RangeKey string `json:"rangeKey"`
	// RangeKeyType is S, N or B. Default S.
	RangeKeyType string `json:"rangeKeyType,omitempty"`
	// Projection is ALL, KEYS_ONLY or INCLUDE. Default ALL.
	Projection string `json:"projection,omitempty"`
	// NonKeyAttributes are the attributes an INCLUDE projection copies. Optional.
	NonKeyAttributes []string `json:"nonKeyAttributes,omitempty"`
}

// RegistryAuth is the pull credential of a private registry other than ECR, such as GHCR.
type RegistryAuth struct {
	// Username is the registry user (for GHCR, the GitHub user or organisation). Required.
	Username string `json:"username"`
	// PasswordSecret names the entry of `appstack:secrets` that holds the password or token (for GHCR, a
	// token with read:packages only). Required.
	PasswordSecret string `json:"passwordSecret"`
}

// Build says how to build a service's image.
type Build struct {
	// Context is the build context directory, relative to the project. Required.
	Context string `json:"context"`
	// Dockerfile is the Dockerfile's path, relative to the project. Default `<context>/Dockerfile`.
	Dockerfile string `json:"dockerfile,omitempty"`
	// Args are docker build arguments. Not for secrets: they are stored in the image's history.
	Args map[string]string `json:"args,omitempty"`
}

// Table is one DynamoDB table.
type Table struct {
	// Name identifies the table in resource names and outputs (the physical name is generated). Required.
	Name string `json:"name"`
	// HashKey is the partition key attribute. Required.
	HashKey string `json:"hashKey"`
	// HashKeyType is S, N or B. Default S.
	HashKeyType string `json:"hashKeyType,omitempty"`
	// RangeKey is the optional sort key attribute.
	RangeKey string `json:"rangeKey,omitempty"`
	// RangeKeyType is S, N or B. Default S when RangeKey is set.
	RangeKeyType string `json:"rangeKeyType,omitempty"`
	// TTLAttribute turns on time to live on this (non-key, Number) attribute. Optional.
	TTLAttribute string `json:"ttlAttribute,omitempty"`
	// Adopt adopts an existing table (pulumi import), keeping its physical name and data. Optional.
	Adopt *TableAdoption `json:"adopt,omitempty"`
}

// The encryptions an adopted table may have.
const (
	StackKeyEncryption = "stack-key"
	AWSOwnedEncryption = "aws-owned"
)

// Arch is an EC2 CPU architecture.
type Arch string

// The architectures appstack deploys to.
const (
	X86_64 Arch = "x86_64"
	ARM64  Arch = "arm64"
)

// Instance is the EC2 host's shape.
type Instance struct {
	// Type is the EC2 instance type, such as t3.small. Default from the profile.
	Type string `json:"type"`
	// Arch is x86_64 or arm64 and must match Type. Default x86_64.
	Arch Arch `json:"arch"`
	// RootVolumeGiB is the encrypted gp3 root volume's size. Default from the profile.
	RootVolumeGiB int `json:"rootVolumeGiB"`
	// DetailedMonitoring turns on 1-minute CloudWatch metrics. Default: on in production.
	DetailedMonitoring bool `json:"detailedMonitoring"`
	// AMI is al2023 (Amazon Linux 2023; the boot installs Docker) or ecs-al2023 (the ECS-optimised AL2023,
	// which ships Docker and boots faster). Default al2023.
	AMI string `json:"ami"`
}

// Platform is the docker platform images are built for.
func (a Arch) Platform() string {
	if a == ARM64 {
		return "linux/arm64"
	}
	return "linux/amd64"
}

// MinRootVolumeGiB is the smallest root volume each AMI (instance.ami) launches with: EC2 refuses a volume
// smaller than the AMI's root snapshot, 8 GiB for AL2023 and 30 GiB for the ECS-optimised AL2023 AMI.
var MinRootVolumeGiB = map[string]int{"al2023": 8, "ecs-al2023": 30}

// Defaults returns the profile of defaults for env. The caller validates env; an unknown one gets staging's.
func Defaults(env Environment) Config {
	c := Config{
		Environment:      env,
		Instance:         Instance{Type: "t3.small", Arch: X86_64, RootVolumeGiB: 20, AMI: "al2023"},
		KeepImages:       10,
		LogRetentionDays: 14,
		ReadyTimeout:     10 * time.Minute,
		IdleTimeout:      DefaultIdleTimeout,
		Hosting:          Single,
		InstanceAlarms:   true,
	}
	switch env {
	case Production:
		c.Instance.Type = "t3.medium"
		c.Instance.RootVolumeGiB = 30
		c.Instance.DetailedMonitoring = true
		c.LogRetentionDays = 90
		c.Protect = true
	case Ephemeral:
		c.Instance.Type = "t3.micro"
		c.LogRetentionDays = 3
		c.ForceDelete = true
		c.InstanceAlarms = false
	}
	return c
}

// applyDefaults fills a service's unset optional fields.
func (s *Service) applyDefaults() {
	if s.HealthPath == "" {
		s.HealthPath = "/health"
	}
	if s.ReadyPath == "" {
		s.ReadyPath = "/ready"
	}
	if a := s.AdoptRepository; a != nil {
		if a.ScanOnPush == nil {
			a.ScanOnPush = new(true)
		}
		if a.Encryption == "" {
			a.Encryption = "KMS"
		}
	}
	if s.Build != nil && s.Build.Dockerfile == "" && s.Build.Context != "" {
		s.Build.Dockerfile = s.Build.Context + "/Dockerfile"
	}
}

func (t *Table) applyDefaults() {
	if t.HashKeyType == "" {
		t.HashKeyType = "S"
	}
	if a := t.Adopt; a != nil {
		if a.PointInTimeRecovery == nil {
			a.PointInTimeRecovery = new(true)
		}
		if a.Encryption == "" {
			a.Encryption = StackKeyEncryption
		}
		if a.BillingMode == "" {
			a.BillingMode = "PAY_PER_REQUEST"
		}
		for i := range a.LocalSecondaryIndexes {
			l := &a.LocalSecondaryIndexes[i]
			if l.RangeKeyType == "" {
				l.RangeKeyType = "S"
			}
			if l.Projection == "" {
				l.Projection = "ALL"
			}
		}
	}
	if t.RangeKey != "" && t.RangeKeyType == "" {
		t.RangeKeyType = "S"
	}
}

// key names a config key for error messages: key("services", 1, "port") = "appstack:services[1].port".
func key(path ...any) string {
	out := Namespace + ":"
	for i, p := range path {
		switch v := p.(type) {
		case int:
			out += fmt.Sprintf("[%d]", v)
		default:
			if i > 0 {
				out += "."
			}
			out += fmt.Sprint(v)
		}
	}
	return out
}
