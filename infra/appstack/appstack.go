// Package appstack is the top-level component: from a validated stack configuration it builds and pushes the
// services' images, creates their tables and secrets, and runs them on one EC2 host behind an Elastic IP.
// Another Go Pulumi program deploys a whole app with one call to New.
package appstack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/frontdoor"
	"appstack/components/host"
	"appstack/components/identity"
	"appstack/components/image"
	"appstack/components/network"
	"appstack/components/registry"
	"appstack/components/rollout"
	"appstack/components/rollout/awsclient"
	"appstack/components/secrets"
	"appstack/components/table"
	"appstack/components/tags"
	"appstack/components/targethealth"
	"appstack/stacks"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:App"

// Args configures an App.
type Args struct {
	// Config is the stack's configuration, from stacks.Load or built in code. Required; validated again here.
	Config *stacks.Config
	// Secrets holds the value of every name in Config.SecretNames, as a secret output. Required with secrets.
	Secrets pulumi.StringMapInput
	// ProjectDir is where build contexts are read from. Default ".".
	ProjectDir string
	// Clients builds the AWS clients a deploy calls itself, as the deploy's identity. Default DefaultClients().
	Clients Clients
}

// Clients are the AWS clients a deploy calls itself, besides the Pulumi providers: Auto Scaling for a fleet's
// rolling deploy, Elastic Load Balancing for a new target's health.
type Clients struct {
	AutoScaling  rollout.NewClient
	TargetHealth targethealth.NewClient
	// Signals lists and prunes a fleet's readiness signals (SSM Parameter Store).
	Signals rollout.NewSignalStore
}

// DefaultClients are the AWS SDK's clients, with the credential chain the AWS provider uses (awsclient).
func DefaultClients() Clients {
	return Clients{AutoScaling: awsclient.New, TargetHealth: awsclient.NewTargetHealth,
		Signals: awsclient.NewSignalStore}
}

// App is one deployed application.
type App struct {
	pulumi.ResourceState

	// ServiceURLs maps each service to https://<hostname>/ behind the front door, or else to
	// http://<elastic ip>:<port>/.
	ServiceURLs pulumi.StringMapOutput
	// HealthURLs maps each service to its health endpoint (through the front door when there is one), for
	// smoke tests.
	HealthURLs pulumi.StringMapOutput
	// PublicIP is the Elastic IP, the app's stable address. Single host only.
	PublicIP pulumi.StringOutput
	// InstanceID is the host serving the address. Single host only.
	InstanceID pulumi.IDOutput
	// GroupName, TemplateVersion and Rollout are the fleet's Auto Scaling group, the launch template version
	// its hosts run, and what the deploy's rollout did. Fleet only.
	GroupName, TemplateVersion, Rollout pulumi.StringOutput
	// RepositoryURLs maps each service to its ECR repository (every service has one, built or pinned).
	RepositoryURLs pulumi.StringMapOutput
	// ImageDigests maps each service to the image reference the host runs (<repository>@sha256:...).
	ImageDigests pulumi.StringMapOutput
	// TableNames and TableArns map each table to its physical name and ARN.
	TableNames, TableArns pulumi.StringMapOutput
	// LogGroupName is where the containers log.
	LogGroupName pulumi.StringOutput
}

// AutoScalingServiceLinkedRole is the role Auto Scaling acts as (path under aws-service-role/ and name); the
// bootstrap creates it in every account a fleet deploys to.
const AutoScalingServiceLinkedRole = identity.AutoScalingService + "/" + identity.AutoScalingServiceLinkedRoleName

// New deploys the app described by args.Config.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*App, error) {
	if args == nil || args.Config == nil {
		return nil, fmt.Errorf("appstack %q: Config is required", name)
	}
	cfg, dir, clients := args.Config, args.ProjectDir, args.Clients
	if dir == "" {
		dir = "."
	}
	if clients.AutoScaling == nil {
		clients.AutoScaling = DefaultClients().AutoScaling
	}
	if clients.TargetHealth == nil {
		clients.TargetHealth = DefaultClients().TargetHealth
	}
	if clients.Signals == nil {
		clients.Signals = DefaultClients().Signals
	}
	if err := cfg.Validate(dir); err != nil {
		return nil, fmt.Errorf("appstack %q: %w", name, err)
	}
	if len(cfg.SecretNames) > 0 && args.Secrets == nil {
		return nil, fmt.Errorf("appstack %q: Secrets is required when Config.SecretNames is set", name)
	}
	if err := checkAccount(ctx, cfg); err != nil {
		return nil, fmt.Errorf("appstack %q: %w", name, err)
	}
	// The front door's zone and subnets are looked up before anything is registered: a domain the account does
	// not hold fails here, naming the key.
	var door *doorPlacement
	if cfg.HasFrontDoor() {
		p, err := placeFrontDoor(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("appstack %q: %w", name, err)
		}
		door = p
		if cfg.IsFleet() {
			if err := checkFleetSubnets(ctx, cfg, door); err != nil {
				return nil, fmt.Errorf("appstack %q: %w", name, err)
			}
		}
	}
	c := &App{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	tagSet := map[string]string{
		"app":         ctx.Project(),
		"environment": string(cfg.Environment),
		"stack":       ctx.Stack(),
		"managed-by":  "appstack",
	}
	// Fixed names carry project, stack and component name, so that ephemeral stacks and a second App in one
	// program never collide.
	path := fmt.Sprintf("/%s/%s/%s", ctx.Project(), ctx.Stack(), name)

	logs, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		RetentionInDays: pulumi.Int(cfg.LogRetentionDays),
		Tags:            tags.With(tagSet, name),
	}, parent)
	if err != nil {
		return nil, err
	}
	deletionWindow := 30
	if cfg.Environment == stacks.Ephemeral {
		deletionWindow = 7
	}
	secArgs := &secrets.Args{
		Path:               path + "/secrets",
		Names:              cfg.SecretNames,
		Values:             args.Secrets,
		DeletionWindowDays: deletionWindow,
		// The key that encrypts the tables is kept wherever the tables are.
		Protect: cfg.Protect,
		// An adopted table outlives a destroy, so the key it is moved to must too.
		Retain: adoptsWithStackKey(cfg),
		Tags:   tagSet,
		// A preview or drift check by a CI preview role shows the key policy the deploying role keeps.
		DeployRoles: stacks.CIDeployRoles,
	}
	if cfg.AlarmEmail != "" {
		// The alarm topic is encrypted with the stack key, which CloudWatch must be allowed to use.
		secArgs.ServicePrincipals = []string{"cloudwatch.amazonaws.com"}
		if cfg.IsFleet() {
			// Auto Scaling publishes the fleet's launch and termination errors as its service-linked role.
			secArgs.ServiceLinkedRoles = []string{AutoScalingServiceLinkedRole}
		}
		secArgs.AccountRoot = logs.Arn.ApplyT(accountRoot).(pulumi.StringOutput)
	}
	sec, err := secrets.New(ctx, name+"-secrets", secArgs, parent)
	if err != nil {
		return nil, err
	}
	var alarmTopic pulumi.StringInput
	if cfg.AlarmEmail != "" {
		// The topic's name starts with the project and stack, so that each deploy role's SNS rights and the alarm
		// actions it may set name its own stacks' topics only (bootstrap: TopicPattern).
		topic, err := sns.NewTopic(ctx, name+"-alarms", &sns.TopicArgs{
			NamePrefix:     pulumi.String(TopicNamePrefix(ctx.Project(), ctx.Stack(), name)),
			KmsMasterKeyId: sec.KeyArn,
			Tags:           tags.With(tagSet, name+"-alarms"),
		}, parent)
		if err != nil {
			return nil, err
		}
		_, err = sns.NewTopicSubscription(ctx, name+"-alarms-email", &sns.TopicSubscriptionArgs{
			Topic:    topic.Arn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(cfg.AlarmEmail),
		}, parent)
		if err != nil {
			return nil, err
		}
		alarmTopic = topic.Arn
	}

	tableNames, tableArns := pulumi.StringMap{}, pulumi.StringMap{}
	var tableArnList pulumi.StringArray
	for _, t := range cfg.Tables {
		tblArgs := &table.Args{
			HashKey:      t.HashKey,
			HashKeyType:  t.HashKeyType,
			RangeKey:     t.RangeKey,
			RangeKeyType: t.RangeKeyType,
			TTLAttribute: t.TTLAttribute,
			KmsKeyArn:    sec.KeyArn,
			Protect:      cfg.Protect,
			Tags:         tagSet,
		}
		if ad := t.Adopt; ad != nil {
			tblArgs.Adopt = ad.Name
			tblArgs.NoPointInTimeRecovery = !*ad.PointInTimeRecovery
			tblArgs.AWSOwnedKey = ad.Encryption == stacks.AWSOwnedEncryption
			tblArgs.StreamViewType = ad.Stream
			if ad.BillingMode == "PROVISIONED" {
				tblArgs.ReadCapacity, tblArgs.WriteCapacity = ad.ReadCapacity, ad.WriteCapacity
			}
			for _, l := range ad.LocalSecondaryIndexes {
				tblArgs.LocalSecondaryIndexes = append(tblArgs.LocalSecondaryIndexes, table.LocalIndex{
					Name: l.Name, RangeKey: l.RangeKey, RangeKeyType: l.RangeKeyType, Projection: l.Projection,
					NonKeyAttributes: l.NonKeyAttributes,
				})
			}
		}
		tbl, err := table.New(ctx, name+"-"+t.Name, tblArgs, parent)
		if err != nil {
			return nil, err
		}
		tableNames[t.Name] = tbl.Name
		tableArns[t.Name] = tbl.Arn
		tableArnList = append(tableArnList, tbl.Arn)
	}

	repoURLs, digests := pulumi.StringMap{}, pulumi.StringMap{}
	var repoArns pulumi.StringArray
	var hostServices []host.Service
	var ports []int
	// Every service owns its repository whichever way it gets its image, so a switch between build and image
	// (a rollback by pinned digest, and back) never deletes the repository with the images a rollback needs,
	// and the host keeps its pull rights on it. All repositories are declared before any image, because an
	// image waits for its repository to exist (it looks up the tags the repository holds): declared first,
	// they are created in parallel.
	repos := make([]*registry.Registry, len(cfg.Services))
	for i, s := range cfg.Services {
		repoArgs := &registry.Args{
			KeepImages:  cfg.KeepImages,
			ForceDelete: cfg.ForceDelete,
			Tags:        tagSet,
		}
		if ad := s.AdoptRepository; ad != nil {
			repoArgs.Adopt = ad.Name
			repoArgs.Mutability = ad.Mutability
			repoArgs.LifecyclePolicy = ad.LifecyclePolicy
			repoArgs.NoScanOnPush = !*ad.ScanOnPush
			repoArgs.AES256 = ad.Encryption == "AES256"
		}
		repo, err := registry.New(ctx, name+"-"+s.Name, repoArgs, parent)
		if err != nil {
			return nil, err
		}
		repos[i] = repo
	}
	for i, s := range cfg.Services {
		repo := repos[i]
		repoURLs[s.Name] = repo.RepositoryURL
		repoArns = append(repoArns, repo.RepositoryArn)
		var ref pulumi.StringInput = pulumi.String(s.Image)
		if s.Build != nil {
			// The image is <service>-image beside the service's registry, <service>: it was <service> too, which
			// the alias keeps, so that a stack deployed before holds the same image (and its children) under the
			// new name instead of deleting and creating it.
			img, err := image.New(ctx, name+"-"+s.Name+"-image", &image.Args{
				Context:        s.Build.Context,
				Dockerfile:     s.Build.Dockerfile,
				BuildArgs:      s.Build.Args,
				Platform:       cfg.Instance.Arch.Platform(),
				ProjectDir:     dir,
				RepositoryURL:  repo.RepositoryURL,
				RepositoryName: repo.RepositoryName,
				RegistryID:     repo.RegistryID,
			}, parent, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(name + "-" + s.Name)}}))
			if err != nil {
				return nil, err
			}
			ref = img.RepoDigest
		} else if arn, ok := registry.RepositoryArnOf(s.Image); ok {
			// A pinned image in any private ECR repository, this stack's or another's: the host may pull it.
			repoArns = append(repoArns, pulumi.String(arn))
		}
		digests[s.Name] = ref
		ports = append(ports, s.Port)
		hostServices = append(hostServices, host.Service{
			Name:       s.Name,
			Port:       s.Port,
			HealthPath: s.HealthPath,
			ReadyPath:  s.ReadyPath,
			Image:      ref,
			Env:        serviceEnv(s, tableNames),
			Secrets:    secretEnv(s, sec.ParameterNames),
			// The pull credential is one of the stack's secrets: an SSM SecureString the host's role may read.
			RegistryLogin: registryLogin(s, sec.ParameterNames),
		})
	}

	// The host role carries the bootstrap's boundary in the stack's own account unless
	// appstack:permissionsBoundary names another.
	var boundary pulumi.StringInput = logs.Arn.ApplyT(identity.DefaultBoundaryArn).(pulumi.StringOutput)
	if cfg.PermissionsBoundary != "" {
		boundary = pulumi.String(cfg.PermissionsBoundary)
	}
	id, err := identity.New(ctx, name+"-identity", &identity.Args{
		RepositoryArns: repoArns,
		TableArns:      tableArnList,
		ParameterArns:  sec.ParameterArns,
		KmsKeyArn:      sec.KeyArn,
		LogGroupArn:    logs.Arn,
		// The host may write only its own stack's readiness signals.
		ReadyParameterPrefix: path + "/ready",
		PermissionsBoundary:  boundary,
		Tags:                 tagSet,
	}, parent)
	if err != nil {
		return nil, err
	}
	netArgs := &network.Args{
		VpcID:               cfg.VpcID,
		Ports:               ports,
		IngressCidrs:        cfg.IngressCidrs,
		PublicIngressReason: publicReason(cfg),
		Tags:                tagSet,
	}
	var fd *frontdoor.FrontDoor
	var targetGroups []host.TargetGroup
	if door != nil {
		fd, err = newFrontDoor(ctx, name, cfg, door, logs.Arn.ApplyT(accountID).(pulumi.StringOutput), alarmTopic,
			tagSet, parent)
		if err != nil {
			return nil, err
		}
		netArgs.FrontDoorSecurityGroupID = fd.SecurityGroupID
		for _, s := range cfg.Services {
			targetGroups = append(targetGroups, host.TargetGroup{Service: s.Name, Arn: fd.TargetGroupArns[s.Name],
				Port: s.Port})
		}
	}
	net, err := network.New(ctx, name+"-network", netArgs, parent)
	if err != nil {
		return nil, err
	}
	hostArgs := host.Args{
		Services:             hostServices,
		InstanceType:         cfg.Instance.Type,
		Arch:                 string(cfg.Instance.Arch),
		AMI:                  cfg.Instance.AMI,
		RootVolumeGiB:        cfg.Instance.RootVolumeGiB,
		DetailedMonitoring:   cfg.Instance.DetailedMonitoring,
		SubnetID:             cfg.SubnetID,
		SecurityGroupIDs:     pulumi.StringArray{net.SecurityGroupID},
		InstanceProfileName:  id.InstanceProfileName,
		LogGroupName:         logs.Name,
		Region:               cfg.Region,
		ReadyParameterPrefix: path + "/ready",
		ReadyTimeout:         cfg.ReadyTimeout,
		NewTargetHealth:      clients.TargetHealth,
		// The boot uses the role's policies and reads the secret parameters at once: the identity's and the
		// secrets' children (policy, SSM core attachment, instance profile, key, parameters) come first.
		DependsOn:     append(append([]pulumi.Resource{}, id.Ready...), sec.Parameters...),
		AlarmTopicArn: alarmTopic,
		// Recover and reboot only where the profile asks for it: a review stack's role may not create such alarms.
		InstanceActions: cfg.InstanceAlarms,
		TargetGroups:    targetGroups,
		ProtectAddress:  cfg.Protect,
		AdoptAddress:    cfg.AdoptAddress,
		Tags:            tagSet,
	}
	if cfg.IsFleet() {
		f, err := newFleet(ctx, name, cfg, door, fd, hostArgs, clients, parent)
		if err != nil {
			return nil, err
		}
		c.GroupName, c.TemplateVersion, c.Rollout = f.GroupName, f.TemplateVersion, f.Rollout
		// The hostnames forward to the fleet's target groups only once a rollout has put hosts in service in
		// this deploy. Whether the group existed before says nothing about whether it ever served: the retry of
		// a failed first deploy finds a group whose hosts failed. So the rules follow the rollout on every
		// deploy; a rule already on these target groups got there after a rollout that succeeded, and a failed
		// rollout leaves every rule where it was (on the single host's target groups when moving, or on none).
		if err := fd.Route(ctx, f.Rollout); err != nil {
			return nil, err
		}
		c.PublicIP = pulumi.String("").ToStringOutput()
		c.InstanceID = pulumi.ID("").ToIDOutput()
	} else {
		h, err := host.New(ctx, name+"-host", &hostArgs, parent)
		if err != nil {
			return nil, err
		}
		c.PublicIP, c.InstanceID = h.PublicIP, h.InstanceID
		if fd != nil {
			// Each hostname forwards to its target group once the serving host is healthy in every one.
			if err := fd.Route(ctx, h.Settled); err != nil {
				return nil, err
			}
		}
		none := pulumi.String("").ToStringOutput()
		c.GroupName, c.TemplateVersion, c.Rollout = none, none, none
	}

	urls, health := pulumi.StringMap{}, pulumi.StringMap{}
	for _, s := range cfg.Services {
		if door != nil {
			urls[s.Name] = pulumi.String("https://" + door.hostnames[s.Name] + "/")
			health[s.Name] = pulumi.String("https://" + door.hostnames[s.Name] + s.HealthPath)
			continue
		}
		urls[s.Name] = pulumi.Sprintf("http://%s:%d/", c.PublicIP, s.Port)
		health[s.Name] = pulumi.Sprintf("http://%s:%d%s", c.PublicIP, s.Port, s.HealthPath)
	}
	c.ServiceURLs = urls.ToStringMapOutput()
	c.HealthURLs = health.ToStringMapOutput()
	c.RepositoryURLs = repoURLs.ToStringMapOutput()
	c.ImageDigests = digests.ToStringMapOutput()
	c.TableNames = tableNames.ToStringMapOutput()
	c.TableArns = tableArns.ToStringMapOutput()
	c.LogGroupName = logs.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"serviceUrls":    c.ServiceURLs,
		"healthUrls":     c.HealthURLs,
		"publicIp":       c.PublicIP,
		"instanceId":     c.InstanceID,
		"groupName":      c.GroupName,
		"rollout":        c.Rollout,
		"repositoryUrls": c.RepositoryURLs,
		"imageDigests":   c.ImageDigests,
		"tableNames":     c.TableNames,
		"tableArns":      c.TableArns,
		"logGroupName":   c.LogGroupName,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// serviceEnv is a service's plain environment plus what appstack tells every service: its name, its port
// and the physical name of every table.
func serviceEnv(s stacks.Service, tableNames pulumi.StringMap) pulumi.StringMap {
	env := pulumi.StringMap{}
	for k, v := range s.Env {
		env[k] = pulumi.String(v)
	}
	env["PORT"] = pulumi.String(fmt.Sprint(s.Port))
	env[stacks.ReservedEnvPrefix+"SERVICE"] = pulumi.String(s.Name)
	for name, physical := range tableNames {
		env[TableEnvVar(name)] = physical
	}
	return env
}

// TableEnvVar is the variable that carries a table's physical name: events -> APPSTACK_TABLE_EVENTS.
func TableEnvVar(table string) string {
	return stacks.ReservedEnvPrefix + "TABLE_" + strings.ToUpper(strings.ReplaceAll(table, "-", "_"))
}

func publicReason(cfg *stacks.Config) string {
	w, _ := cfg.Waived(stacks.PublicIngressRule)
	return w.Reason
}

// accountRoot turns any ARN of the account (arn:<partition>:<service>:<region>:<account>:...) into the
// account's root principal.
func accountRoot(s string) (string, error) {
	a, err := arn.Parse(s)
	if err != nil || a.AccountID == "" {
		return "", fmt.Errorf("cannot read the account from ARN %q", s)
	}
	return fmt.Sprintf("arn:%s:iam::%s:root", a.Partition, a.AccountID), nil
}

// secretEnv maps each secret a service receives to its parameter's name.
func secretEnv(s stacks.Service, parameters map[string]string) map[string]string {
	out := map[string]string{}
	for _, n := range s.Secrets {
		out[n] = parameters[n]
	}
	return out
}

// registryLogin is a service's private-registry login, its password named by its SSM parameter; nil without one.
func registryLogin(s stacks.Service, parameters map[string]string) *host.RegistryLogin {
	if s.RegistryAuth == nil {
		return nil
	}
	return &host.RegistryLogin{Username: s.RegistryAuth.Username,
		PasswordParameter: parameters[s.RegistryAuth.PasswordSecret]}
}

// TopicNamePrefix starts the name of a stack's alarm topic: <project>-<stack>-<component>-alarms-, to which the
// provider appends a unique suffix. The deploy roles' SNS rights and alarm actions name their stacks' topics by it.
func TopicNamePrefix(project, stack, name string) string {
	return project + "-" + stack + "-" + name + "-alarms-"
}

// adoptsWithStackKey says whether an adopted table is encrypted with the stack's key. A destroy retains the
// table but would schedule the key's deletion: the table turns inaccessible, and DynamoDB archives a table
// whose key stays inaccessible for more than seven days
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSEDescription.html).
func adoptsWithStackKey(cfg *stacks.Config) bool {
	for _, t := range cfg.Tables {
		if t.Adopt != nil && t.Adopt.Encryption == stacks.StackKeyEncryption {
			return true
		}
	}
	return false
}
