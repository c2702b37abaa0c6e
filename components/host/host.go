// Package host is the component that owns the EC2 instance, its boot script and its Elastic IP.
package host

import (
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/instancetype"
	"appstack/components/readiness"
	"appstack/components/rollout"
	"appstack/components/tags"
	"appstack/components/targethealth"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Host"

// The AMIs a host boots from.
const (
	// AMIStandard is plain Amazon Linux 2023; the boot script installs Docker.
	AMIStandard = "al2023"
	// AMIECS is the ECS-optimised Amazon Linux 2023, which ships Docker: a boot skips that install (and installs
	// the AWS CLI, which this minimal-based AMI lacks).
	AMIECS = "ecs-al2023"
)

// MinRootVolumeGiB is the smallest root volume each AMI launches with: EC2 refuses a smaller volume than the
// AMI's snapshot.
var MinRootVolumeGiB = map[string]int{AMIStandard: 8, AMIECS: 30}

// AMIParameters are the public SSM parameters that name the newest AMI of each kind, per architecture.
var AMIParameters = map[string]map[string]string{
	AMIStandard: {
		"x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		"arm64":  "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
	},
	AMIECS: {
		"x86_64": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
		"arm64":  "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
	},
}

// Service is one container the host runs.
type Service struct {
	// Name names the systemd unit and log stream. Required.
	Name string
	// Port is the TCP port the container listens on with host networking. Required.
	Port int
	// HealthPath and ReadyPath are polled on 127.0.0.1:Port before the boot counts as done. Required.
	HealthPath, ReadyPath string
	// Image is the reference to run; it must resolve to <repository>@sha256:<digest>. Required.
	Image pulumi.StringInput
	// Env is plain environment; values may come from other resources (table names). Optional.
	Env pulumi.StringMapInput
	// Secrets maps an environment variable to the SSM SecureString parameter holding its value. Optional.
	Secrets map[string]string
	// RegistryLogin logs in to Image's private registry (not ECR) before the pull. Optional.
	RegistryLogin *RegistryLogin
}

// RegistryLogin is a private registry's pull credential: a user name and the SSM SecureString parameter that
// holds the password. The boot reads the parameter; the password is never in the user-data.
type RegistryLogin struct {
	// Username is the registry user. Required.
	Username string
	// PasswordParameter is the name of the SSM SecureString parameter holding the password or token. Required.
	PasswordParameter string
}

// Args configures a Host.
type Args struct {
	// Services are the containers to run. Required, at least one.
	Services []Service
	// InstanceType is the EC2 instance type. Required.
	InstanceType string
	// Arch is x86_64 or arm64 and picks the AMI. Required.
	Arch string
	// AMI is AMIStandard or AMIECS. Default AMIStandard.
	AMI string
	// RootVolumeGiB is the encrypted gp3 root volume's size. Default 20, and 30 on AMIECS (its snapshot's size).
	RootVolumeGiB int
	// DetailedMonitoring turns on 1-minute CloudWatch metrics. Default false.
	DetailedMonitoring bool
	// SubnetID places the host. Optional: a default subnet.
	SubnetID string
	// SecurityGroupIDs are the host's security groups. Required.
	SecurityGroupIDs pulumi.StringArrayInput
	// InstanceProfileName is the host's IAM instance profile. Required.
	InstanceProfileName pulumi.StringInput
	// LogGroupName is the CloudWatch log group the containers log to. Required.
	LogGroupName pulumi.StringInput
	// Region is the AWS region, for the AWS CLI on the host. Required.
	Region string
	// ReadyParameterPrefix is the SSM path the host writes its readiness signal under (the host's role must be
	// allowed to put parameters there). Required.
	ReadyParameterPrefix string
	// ReadyTimeout bounds how long a deploy waits for a new host's readiness signal; the boot gets it minus
	// readiness.LaunchAllowance, so at least readiness.MinReadyTimeout. Default 10 minutes.
	ReadyTimeout time.Duration
	// DependsOn are what the instance must not boot before: its role's policies and instance profile, the
	// secret parameters it reads. Pass the resources themselves (identity.Ready, secrets.Parameters), not their
	// components: the Go SDK adds a component's children as their registrations run, so a dependency on the
	// component can miss some. Optional.
	DependsOn []pulumi.Resource
	// AlarmTopicArn receives the host's status-check alarms. Optional.
	AlarmTopicArn pulumi.StringInput
	// InstanceActions lets the status-check alarms recover the host onto healthy hardware and reboot it when its
	// own check fails. The deploying role then needs the right to create alarms with EC2 actions, which an
	// ephemeral stack's role does not have. Default false: the alarms only notify AlarmTopicArn.
	InstanceActions bool
	// TargetGroups are the front door's target groups the host serves behind: the host registers in each once
	// it has signalled readiness. Optional.
	TargetGroups []TargetGroup
	// TargetHealth reads the new target's health in TargetGroups (Elastic Load Balancing's DescribeTargetHealth).
	// Optional: by default a client for the deploy's own identity and region (the AWS provider's configuration,
	// rollout.ReadIdentity) from NewTargetHealth.
	TargetHealth targethealth.API
	// NewTargetHealth builds TargetHealth's default (awsclient.NewTargetHealth). Required with TargetGroups, unless
	// TargetHealth is set.
	NewTargetHealth targethealth.NewClient
	// HealthPoll is how often the new target's health is read. Default targethealth.DefaultPoll.
	HealthPoll time.Duration
	// ProtectAddress protects the Elastic IP so that no destroy or mistake changes the public address.
	// Default false; on in production.
	ProtectAddress bool
	// AdoptAddress is the allocation id of an existing Elastic IP to adopt with pulumi import instead of
	// allocating one, keeping the address users know; it is then retained on delete. Optional.
	AdoptAddress string
	// Tags go on the instance, its volume and the Elastic IP. Optional.
	Tags map[string]string
}

// TargetGroup is one load balancer target group the host registers in.
type TargetGroup struct {
	// Service names the attachment (<host>-<service>-target). Required.
	Service string
	// Arn is the target group's ARN. Required.
	Arn pulumi.StringInput
	// Port is the host port the target group sends requests to. Required.
	Port int
}

// Host is an EC2 instance that boots the services, with an Elastic IP as its stable address.
type Host struct {
	pulumi.ResourceState

	// InstanceID is the running instance's id.
	InstanceID pulumi.IDOutput
	// PublicIP is the Elastic IP's address.
	PublicIP pulumi.StringOutput
	// UserData is the rendered boot script (it holds no secret values).
	UserData pulumi.StringOutput
	// Fingerprint identifies what the host runs; the host signals it when ready.
	Fingerprint pulumi.StringOutput
	// Settled resolves once the serving host is healthy in every target group of TargetGroups (the front door's
	// hostnames move to them only then): "healthy in <n> target group(s)", "preview" or "no load balancer".
	Settled pulumi.StringOutput
	// ReadyInstanceID is the instance id, resolved only once that instance has signalled readiness. The
	// Elastic IP association and the status-check alarms take it, so both follow only a healthy host.
	ReadyInstanceID pulumi.StringOutput
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.AMI == "" {
		out.AMI = AMIStandard
	}
	if out.RootVolumeGiB == 0 {
		out.RootVolumeGiB = max(20, MinRootVolumeGiB[out.AMI])
	}
	if out.ReadyTimeout == 0 {
		out.ReadyTimeout = readiness.DefaultReadyTimeout
	}
	out.ReadyParameterPrefix = strings.TrimSuffix(out.ReadyParameterPrefix, "/")
	return out
}

func (a *Args) validate(name string) error {
	switch {
	case len(a.Services) == 0:
		return fmt.Errorf("host %q: at least one service is required", name)
	case AMIParameters[a.AMI] == nil:
		return fmt.Errorf("host %q: AMI %q: want %s or %s", name, a.AMI, AMIStandard, AMIECS)
	case AMIParameters[a.AMI][a.Arch] == "":
		return fmt.Errorf("host %q: Arch %q: want x86_64 or arm64", name, a.Arch)
	case a.InstanceType == "" || a.Region == "":
		return fmt.Errorf("host %q: InstanceType and Region are required", name)
	case !strings.HasPrefix(a.ReadyParameterPrefix, "/"):
		return fmt.Errorf("host %q: ReadyParameterPrefix %q must be an SSM path starting with /", name,
			a.ReadyParameterPrefix)
	case a.SecurityGroupIDs == nil || a.InstanceProfileName == nil || a.LogGroupName == nil:
		return fmt.Errorf("host %q: SecurityGroupIDs, InstanceProfileName and LogGroupName are required", name)
	case a.RootVolumeGiB < MinRootVolumeGiB[a.AMI]:
		return fmt.Errorf("host %q: RootVolumeGiB %d: the %s AMI's root snapshot needs at least %d", name,
			a.RootVolumeGiB, a.AMI, MinRootVolumeGiB[a.AMI])
	case a.ReadyTimeout < readiness.MinReadyTimeout:
		return fmt.Errorf("host %q: ReadyTimeout %s: the boot needs at least %s after a %s launch allowance", name,
			a.ReadyTimeout, readiness.MinBudget, readiness.LaunchAllowance)
	}
	for _, tg := range a.TargetGroups {
		if tg.Service == "" || tg.Arn == nil || tg.Port < 1 || tg.Port > 65535 {
			return fmt.Errorf("host %q: every target group needs Service, Arn and a TCP Port", name)
		}
	}
	for _, s := range a.Services {
		if s.Image == nil || s.Name == "" || s.Port == 0 {
			return fmt.Errorf("host %q: every service needs Name, Port and Image", name)
		}
		if !strings.HasPrefix(s.HealthPath, "/") || !strings.HasPrefix(s.ReadyPath, "/") {
			return fmt.Errorf("host %q: service %q: HealthPath and ReadyPath must start with /", name, s.Name)
		}
	}
	return nil
}

// New creates the instance, its Elastic IP and the association between them.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Host, error) {
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	c := &Host{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	ami := ssm.LookupParameterOutput(ctx, ssm.LookupParameterOutputArgs{
		Name: pulumi.String(AMIParameters[a.AMI][a.Arch]),
	}, pulumi.Parent(c)).Value()
	// The stack's readiness signals, read through the provider (in a preview too) to number this deploy's boot
	// attempt: see readiness.Attempt.
	signals, err := ReadSignals(ctx, a.ReadyParameterPrefix, c)
	var values []string
	switch {
	case err == nil:
		for _, v := range signals {
			values = append(values, v)
		}
	case ctx.DryRun():
		// A preview with a narrower role still shows the plan; a deploy never guesses the attempt, since a
		// wrong number would replace a healthy host.
		_ = ctx.Log.Warn(fmt.Sprintf("host %q: cannot read the readiness signals under %s (%v); this preview "+
			"assumes boot attempt 0, so whether it shows the host replaced may differ from the deploy", name,
			a.ReadyParameterPrefix, err), &pulumi.LogArgs{Resource: c})
	default:
		return nil, fmt.Errorf("host %q: reading the readiness signals under %s (the deploy needs "+
			"ssm:GetParametersByPath on that path): %w", name, a.ReadyParameterPrefix, err)
	}

	b, err := a.renderBoot(fmt.Sprintf("host %q", name), values)
	if err != nil {
		return nil, err
	}
	c.UserData, c.Fingerprint = b.script, b.fingerprint
	instanceArgs := &ec2.InstanceArgs{
		Ami:                      ami,
		InstanceType:             pulumi.String(a.InstanceType),
		IamInstanceProfile:       a.InstanceProfileName,
		VpcSecurityGroupIds:      a.SecurityGroupIDs,
		AssociatePublicIpAddress: pulumi.Bool(true),
		// What the host runs is fixed at boot: a change makes a new host rather than editing a live one.
		UserDataReplaceOnChange: pulumi.Bool(true),
		// IMDSv2 only, one hop: containers use host networking, so they still reach the role's credentials,
		// while anything behind a further hop (a bridged container, a proxy) cannot.
		MetadataOptions: &ec2.InstanceMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		RootBlockDevice: &ec2.InstanceRootBlockDeviceArgs{
			VolumeType:          pulumi.String("gp3"),
			VolumeSize:          pulumi.Int(a.RootVolumeGiB),
			Encrypted:           pulumi.Bool(true),
			DeleteOnTermination: pulumi.Bool(true),
		},
		// The volume is tagged in the RunInstances call itself: the provider sends volumeTags as a tag
		// specification at launch, while rootBlockDevice.tags are added after it with CreateTags
		// (terraform-provider-aws internal/service/ec2/ec2_instance.go, resourceInstanceCreate). The deploy roles
		// may launch only volumes that carry their stack's tag (bootstrap: Ec2LaunchTagged), so a volume tagged
		// after the launch would have the whole launch refused.
		VolumeTags:   tags.With(a.Tags, name),
		Monitoring:   pulumi.Bool(a.DetailedMonitoring),
		EbsOptimized: pulumi.Bool(instancetype.EBSOptimizable(a.InstanceType)),
		Tags:         tags.With(a.Tags, name),
	}
	if a.SubnetID != "" {
		instanceArgs.SubnetId = pulumi.String(a.SubnetID)
	}
	// The primary network interface carries the stack's tags from the launch: the deploy roles may move an
	// address only onto an interface of their own stacks (bootstrap: Ec2AddressesOnOwnInterfaces), because
	// AssociateAddress on an interface takes the address its host had. The instance resource tags the instance and
	// (volumeTags) its volumes at launch but has no argument for the interface (pulumi-aws v7.41.0
	// ec2.InstanceArgs: Tags, VolumeTags); RunInstances applies a launch template's network-interface tag
	// specification to the interfaces it creates
	// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchTemplateTagSpecificationRequest.html),
	// and the instance's own arguments override the rest of the template.
	template, err := ec2.NewLaunchTemplate(ctx, name+"-launch", &ec2.LaunchTemplateArgs{
		Description: pulumi.String("appstack: tags the host's network interface at launch"),
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("network-interface"),
				Tags: tags.With(a.Tags, name)},
		},
		Tags: tags.With(a.Tags, name),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	instanceArgs.LaunchTemplate = &ec2.InstanceLaunchTemplateArgs{
		Id:      template.ID(),
		Version: template.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput),
	}
	if b.compress {
		instanceArgs.UserDataBase64 = b.userData(false)
	} else {
		instanceArgs.UserData = b.userData(false)
	}
	instance, err := ec2.NewInstance(ctx, name+"-instance", instanceArgs, pulumi.Parent(c),
		// A newer AMI alone never replaces a running host; the next host built picks it up.
		pulumi.IgnoreChanges([]string{"ami"}),
		// The boot uses the role's permissions and reads the secret parameters at once: they must exist first.
		pulumi.DependsOn(a.DependsOn))
	if err != nil {
		return nil, err
	}
	eipOpts := []pulumi.ResourceOption{pulumi.Parent(c)}
	if a.ProtectAddress {
		eipOpts = append(eipOpts, pulumi.Protect(true))
	}
	if a.AdoptAddress != "" {
		// The engine reads the address by its allocation id (pulumi import); the association then moves it to
		// the new host once ready, as it moves appstack's own address.
		eipOpts = append(eipOpts, pulumi.Import(pulumi.ID(a.AdoptAddress)), pulumi.RetainOnDelete(true))
	}
	eip, err := ec2.NewEip(ctx, name+"-eip", &ec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   tags.With(a.Tags, name),
	}, eipOpts...)
	if err != nil {
		return nil, err
	}
	c.ReadyInstanceID = a.gate(ctx, c, name, instance, c.Fingerprint)
	// A separate association moves the address between hosts without ever replacing the address itself. It
	// takes the gated id: until the new host has signalled readiness it still names the old host, which keeps
	// serving; a failed or timed-out gate fails the update right here.
	_, err = ec2.NewEipAssociation(ctx, name+"-eip-assoc", &ec2.EipAssociationArgs{
		AllocationId:       eip.AllocationId,
		InstanceId:         c.ReadyInstanceID,
		AllowReassociation: pulumi.Bool(true),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	attachments, err := a.targets(ctx, c, name)
	if err != nil {
		return nil, err
	}
	c.Settled = a.settle(ctx, c, name, attachments)
	// The alarms watch the serving host: after a failed gate they stay on the host that still serves.
	if err := a.alarms(ctx, c, name, c.ReadyInstanceID); err != nil {
		return nil, err
	}
	c.InstanceID = instance.ID()
	c.PublicIP = eip.PublicIp
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"instanceId": instance.ID(),
		"publicIp":   eip.PublicIp,
		"readyId":    c.ReadyInstanceID,
		"settled":    c.Settled,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// bootSpec resolves every service's image and environment into what the boot script renders (a BootSpec).
func (a *Args) bootSpec(signals []string) pulumi.AnyOutput {
	inputs := []any{a.LogGroupName}
	for _, s := range a.Services {
		env := s.Env
		if env == nil {
			env = pulumi.StringMap{}
		}
		inputs = append(inputs, s.Image, env)
	}
	return pulumi.All(inputs...).ApplyT(func(v []any) any {
		spec := BootSpec{Region: a.Region, LogGroup: v[0].(string), ReadyPrefix: a.ReadyParameterPrefix,
			ECSAMI: a.AMI == AMIECS, Budget: readiness.Budget(a.ReadyTimeout)}
		for i, s := range a.Services {
			spec.Services = append(spec.Services, BootService{
				Name:          s.Name,
				Image:         v[1+2*i].(string),
				Port:          s.Port,
				HealthPath:    s.HealthPath,
				ReadyPath:     s.ReadyPath,
				Env:           v[2+2*i].(map[string]string),
				Secrets:       s.Secrets,
				RegistryLogin: s.RegistryLogin,
			})
		}
		spec.Attempt = readiness.Attempt(spec.Fingerprint(), signals)
		return spec
	}).(pulumi.AnyOutput)
}

// compress decides, before any digest is known, whether the host's script goes gzipped: it renders the
// script with stand-ins as long as the real values (an ECR reference, a generated table name) and compares.
func (a *Args) compress() (bool, error) {
	spec := BootSpec{Region: a.Region, LogGroup: "app-logs-0000000", ReadyPrefix: a.ReadyParameterPrefix,
		ECSAMI: a.AMI == AMIECS, Attempt: 999, Budget: readiness.Budget(a.ReadyTimeout)}
	for _, s := range a.Services {
		env := map[string]string{}
		if m, ok := s.Env.(pulumi.StringMap); ok {
			for k := range m {
				env[k] = strings.Repeat("x", 48)
			}
		}
		bs := BootService{
			Name: s.Name, Port: s.Port, HealthPath: s.HealthPath, ReadyPath: s.ReadyPath, Env: env,
			Secrets: s.Secrets,
			Image: "123456789012.dkr.ecr." + a.Region + ".amazonaws.com/" + s.Name + "-repo-0000000@sha256:" +
				strings.Repeat("0", 64),
		}
		// A prebuilt image is known already, and its registry decides the login the script renders.
		if img, ok := s.Image.(pulumi.String); ok {
			bs.Image, bs.RegistryLogin = string(img), s.RegistryLogin
		}
		spec.Services = append(spec.Services, bs)
	}
	script, err := RenderBootScript(spec)
	return len(script) > compressAbove, err
}

// gate resolves to the instance id once the instance has signalled that it runs fingerprint. It reads the
// signal with an invoke of aws:ssm/getParameter through the same provider as the host's resources, so with
// exactly the deploy's credentials, profile, assumed role and region. A preview never waits: there is no new
// host to wait for.
func (a *Args) gate(ctx *pulumi.Context, c *Host, name string, instance *ec2.Instance,
	fingerprint pulumi.StringOutput) pulumi.StringOutput {
	read := func(_ context.Context, parameter string) (string, error) {
		res, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: parameter,
			WithDecryption: pulumi.BoolRef(false)}, pulumi.Parent(c))
		switch {
		case readiness.IsNotFound(err):
			return "", fmt.Errorf("%w: %v", readiness.ErrNotFound, err)
		case err != nil:
			return "", err
		}
		return res.Value, nil
	}
	gate := readiness.Gate{Read: read, Timeout: a.ReadyTimeout, Log: func(line string) {
		_ = ctx.Log.Info(line, &pulumi.LogArgs{Resource: c}) // the timeline is information; a lost line is no failure
	}}
	return pulumi.All(instance.ID(), fingerprint, a.LogGroupName, instance.URN()).ApplyTWithContext(ctx.Context(),
		func(goctx context.Context, v []any) (string, error) {
			instanceID := string(v[0].(pulumi.ID))
			if ctx.DryRun() {
				return instanceID, nil
			}
			err := gate.Wait(goctx, readiness.WaitRequest{
				InstanceID:  instanceID,
				Parameter:   a.ReadyParameterPrefix + "/" + instanceID,
				Fingerprint: v[1].(string),
				LogGroup:    v[2].(string),
				Region:      a.Region,
				URN:         string(v[3].(pulumi.URN)),
			})
			if err != nil {
				return "", fmt.Errorf("host %q: %w", name, err)
			}
			return instanceID, nil
		}).(pulumi.StringOutput)
}

// targets register the ready host in the front door's target groups. Each attachment takes the gated id, like
// the Elastic IP association: until the new host has signalled readiness nothing of it is registered. A new id
// replaces the attachment, and Pulumi creates the replacement (RegisterTargets) before it deletes the old one
// (DeregisterTargets, after which the old target drains for the group's deregistration delay), so each target
// group always holds a registered target; the new one takes requests once it passes the group's first health
// check (docs/frontdoor.md states the window this leaves).
func (a *Args) targets(ctx *pulumi.Context, c *Host, name string) ([]*lb.TargetGroupAttachment, error) {
	var out []*lb.TargetGroupAttachment
	for _, tg := range a.TargetGroups {
		att, err := lb.NewTargetGroupAttachment(ctx, name+"-"+tg.Service+"-target", &lb.TargetGroupAttachmentArgs{
			TargetGroupArn: tg.Arn,
			TargetId:       c.ReadyInstanceID,
			Port:           pulumi.Int(tg.Port),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		out = append(out, att)
	}
	return out, nil
}

// settle holds the update open until the serving host is healthy in every target group, as Elastic Load
// Balancing reports it (DescribeTargetHealth), bounded by the ready timeout. pulumi-aws only registers and
// deregisters targets and cannot read their health (terraform-provider-aws
// internal/service/elbv2/target_group_attachment.go), and the engine deletes the replaced, old attachments only
// after the program has finished, so this wait is what keeps the old host registered until the new target is in
// service: first registered (Elb.RegistrationInProgress, whose length no health-check setting bounds), then
// through the group's healthy threshold of checks (API_TargetHealth). A host that already serves is healthy at the
// first read; a target group that is new (a port change or a rename replaces it) gets the host registered and
// waited for the same way, and the front door's hostnames move to it only after this resolves (frontdoor.Route).
// A target that does not turn healthy fails the update: the old host stays registered and keeps serving.
func (a *Args) settle(ctx *pulumi.Context, c *Host, name string,
	attachments []*lb.TargetGroupAttachment) pulumi.StringOutput {
	if len(attachments) == 0 {
		return pulumi.String("no load balancer").ToStringOutput()
	}
	inputs := []any{c.ReadyInstanceID}
	for i, att := range attachments {
		inputs = append(inputs, att.ID(), a.TargetGroups[i].Arn)
	}
	return pulumi.All(inputs...).ApplyTWithContext(ctx.Context(), func(goctx context.Context, v []any) (string,
		error) {
		offline, _ := ctx.Value(readiness.NoSettle).(bool)
		switch {
		case ctx.DryRun():
			return "preview", nil
		case offline:
			return "offline: not waited", nil
		}
		var targets []targethealth.Target
		for i, tg := range a.TargetGroups {
			targets = append(targets, targethealth.Target{GroupArn: v[2+2*i].(string), Port: tg.Port})
		}
		api := a.TargetHealth
		if api == nil {
			identity, err := rollout.ReadIdentity(func(k string) (string, bool) { return ctx.GetConfig(k) })
			if err != nil {
				return "", fmt.Errorf("host %q: %w", name, err)
			}
			if api, err = a.NewTargetHealth.Build(goctx, identity); err != nil {
				return "", fmt.Errorf("host %q: %w", name, err)
			}
		}
		log := func(line string) {
			_ = ctx.Log.Info("host "+strconv.Quote(name)+": "+line, &pulumi.LogArgs{Resource: c})
		}
		if err := targethealth.Wait(goctx, api, v[0].(string), targets, a.ReadyTimeout, a.HealthPoll, log); err != nil {
			return "", fmt.Errorf("host %q: %w", name, err)
		}
		return fmt.Sprintf("healthy in %d target group(s)", len(targets)), nil
	}).(pulumi.StringOutput)
}

// alarms watch the host's status checks: they notify the alarm topic and, with InstanceActions, recover the host
// when AWS's hardware fails and reboot it when its own status check fails.
func (a *Args) alarms(ctx *pulumi.Context, c *Host, name string, id pulumi.StringOutput) error {
	for _, alarm := range []struct{ suffix, metric, action, what string }{
		{"recover", "StatusCheckFailed_System", "recover", "recover the host onto healthy hardware"},
		{"reboot", "StatusCheckFailed_Instance", "reboot", "reboot the host when its own status check fails"},
	} {
		actions := pulumi.Array{}
		if a.InstanceActions {
			actions = append(actions, pulumi.Sprintf("arn:%s:automate:%s:ec2:%s", partitionOf(a.Region), a.Region,
				alarm.action))
		}
		if a.AlarmTopicArn != nil {
			actions = append(actions, a.AlarmTopicArn)
		}
		_, err := cloudwatch.NewMetricAlarm(ctx, name+"-"+alarm.suffix, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String("appstack: " + alarm.what),
			Namespace:          pulumi.String("AWS/EC2"),
			MetricName:         pulumi.String(alarm.metric),
			Dimensions:         pulumi.StringMap{"InstanceId": id},
			Statistic:          pulumi.String("Maximum"),
			Period:             pulumi.Int(60),
			EvaluationPeriods:  pulumi.Int(2),
			Threshold:          pulumi.Float64(1),
			ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
			AlarmActions:       actions,
			Tags:               tags.With(a.Tags, name),
		}, pulumi.Parent(c))
		if err != nil {
			return err
		}
	}
	return nil
}

// partitionOf is the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// ReadSignals reads the readiness signals under prefix through the provider (aws:ssm/getParametersByPath, with
// the deploy's own identity), by instance id: the last element of each parameter's name.
func ReadSignals(ctx *pulumi.Context, prefix string, parent pulumi.Resource) (map[string]string, error) {
	res, err := ssm.GetParametersByPath(ctx, &ssm.GetParametersByPathArgs{
		Path:           strings.TrimSuffix(prefix, "/"),
		WithDecryption: pulumi.BoolRef(false),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, n := range res.Names {
		if i < len(res.Values) {
			out[path.Base(n)] = res.Values[i]
		}
	}
	return out, nil
}

// LaunchTemplateBoot is the boot of a fleet's hosts: the same script, digests and readiness signals as a single
// host's, rendered for a launch template.
type LaunchTemplateBoot struct {
	// UserData is the script, plain.
	UserData pulumi.StringOutput
	// UserDataBase64 is what a launch template takes: the script base64-encoded, gzipped when it would not fit.
	UserDataBase64 pulumi.StringOutput
	// Fingerprint identifies what the hosts run; each host signals it when ready.
	Fingerprint pulumi.StringOutput
	// AMIParameter is the public SSM parameter naming the AMI.
	AMIParameter string
}

// BootForLaunchTemplate renders args' boot for a launch template. Only the fields the boot uses are read:
// Services, Arch, AMI, LogGroupName, Region, ReadyParameterPrefix and ReadyTimeout; they are validated as New
// validates them. Every host of a fleet is new, so the boot attempt is always 0.
func BootForLaunchTemplate(name string, args *Args) (*LaunchTemplateBoot, error) {
	a := args.withDefaults()
	if a.InstanceType == "" {
		a.InstanceType = "fleet"
	}
	if err := a.validate(name); err != nil {
		return nil, err
	}
	b, err := a.renderBoot(fmt.Sprintf("fleet %q", name), nil)
	if err != nil {
		return nil, err
	}
	return &LaunchTemplateBoot{UserData: b.script, UserDataBase64: b.userData(true), Fingerprint: b.fingerprint,
		AMIParameter: AMIParameters[a.AMI][a.Arch]}, nil
}

// renderedBoot is a rendered boot script, what it runs, and whether it goes gzipped.
type renderedBoot struct {
	who                 string
	script, fingerprint pulumi.StringOutput
	compress            bool
}

// renderBoot renders the boot script for the stack's readiness signals (which number the attempt); who names
// the component in errors.
func (a *Args) renderBoot(who string, signals []string) (renderedBoot, error) {
	compress, err := a.compress()
	if err != nil {
		return renderedBoot{}, fmt.Errorf("%s: %w", who, err)
	}
	spec := a.bootSpec(signals)
	return renderedBoot{
		who:      who,
		compress: compress,
		script: spec.ApplyT(func(v any) (string, error) {
			script, err := RenderBootScript(v.(BootSpec))
			if err != nil {
				return "", fmt.Errorf("%s: %w", who, err)
			}
			return script, nil
		}).(pulumi.StringOutput),
		fingerprint: spec.ApplyT(func(v any) string { return v.(BootSpec).Fingerprint() }).(pulumi.StringOutput),
	}, nil
}

// userData is the script as EC2 takes it: gzipped and base64-encoded when it would not fit plain; else plain, or
// base64-encoded when asBase64 (a launch template takes nothing else).
func (b renderedBoot) userData(asBase64 bool) pulumi.StringOutput {
	return b.script.ApplyT(func(script string) (string, error) {
		if b.compress {
			gz, err := GzipUserData(script)
			if err != nil {
				return "", fmt.Errorf("%s: %w", b.who, err)
			}
			return gz, nil
		}
		if err := CheckUserData(script); err != nil {
			return "", fmt.Errorf("%s: %w", b.who, err)
		}
		if asBase64 {
			return base64.StdEncoding.EncodeToString([]byte(script)), nil
		}
		return script, nil
	}).(pulumi.StringOutput)
}
