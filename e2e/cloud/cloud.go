// Package cloud implements the end-to-end suite's interfaces (package e2e) on the real services: the stack on
// the Pulumi Automation API through internal/lifecycle's Manager, as stackctl drives it, and the leftover scan
// on the AWS Resource Groups Tagging API, EC2, KMS, SSM and STS. It holds no logic of its own to test: every
// decision is in package e2e, which is tested against fakes of these interfaces.
package cloud

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"appstack/components/rollout"
	"appstack/e2e"
	"appstack/internal/lifecycle"
	"appstack/stacks"
)

// Cloud creates the suite's ephemeral stack with a lifecycle.Manager.
type Cloud struct {
	// Manager runs the Automation API steps. Required.
	Manager *lifecycle.Manager
	// Progress receives `pulumi up`'s own output. Required.
	Progress io.Writer
	// Project is the project's name (Pulumi.yaml), set by New.
	Project string
	// Region is the stack's AWS region, set by New: -region, else the base configuration's aws:region.
	Region string

	base auto.ConfigMap
}

// New reads the project and the base stack's configuration, and settles the region.
func New(ctx context.Context, m *lifecycle.Manager, progress io.Writer, o e2e.Options) (*Cloud, error) {
	project, err := workspace.LoadProject(filepath.Join(m.Dir, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	c := &Cloud{Manager: m, Progress: progress, Project: string(project.Name)}
	if c.base, err = c.baseConfig(ctx, o.Base); err != nil {
		return nil, err
	}
	c.Region = o.Region
	if c.Region == "" {
		c.Region = c.base["aws:region"].Value
	}
	if c.Region == "" {
		return nil, fmt.Errorf("base stack %s sets no aws:region; pass -region", o.Base)
	}
	return c, nil
}

func (c *Cloud) workspace(ctx context.Context) (auto.Workspace, error) {
	return auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(c.Manager.Dir)},
		c.Manager.Options...)...)
}

// baseConfig reads the base stack's configuration from the backend, secrets decrypted so they can be
// re-encrypted for the new stack, or else from its committed stack file, which must then hold no secrets (as
// lifecycle.Manager.CreateReview does).
func (c *Cloud) baseConfig(ctx context.Context, base string) (auto.ConfigMap, error) {
	ws, err := c.workspace(ctx)
	if err != nil {
		return nil, err
	}
	if cfg, err := ws.GetAllConfig(ctx, base); err == nil {
		return cfg, nil
	}
	f, err := lifecycle.ReadStackConfig(c.Manager.Dir, base)
	if err != nil {
		return nil, fmt.Errorf("base stack %s is neither in the backend nor committed: %w", base, err)
	}
	if len(f.SecretKeys) > 0 {
		return nil, fmt.Errorf("base stack %s is not in the backend, and its committed file holds secrets (%s) that "+
			"only the backend can decrypt", base, strings.Join(f.SecretKeys, ", "))
	}
	out := auto.ConfigMap{}
	for k, v := range f.Config {
		out[k] = auto.ConfigValue{Value: v}
	}
	return out, nil
}

// Create creates the stack: the base configuration, the ephemeral profile, the expiry and the region. It
// refuses a stack that exists already, so that the suite never destroys one it did not create.
func (c *Cloud) Create(ctx context.Context, o e2e.Options) (e2e.Stack, error) {
	ws, err := c.workspace(ctx)
	if err != nil {
		return nil, err
	}
	list, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the backend's stacks: %w", err)
	}
	if slices.ContainsFunc(list, func(s auto.StackSummary) bool {
		return s.Name == o.Stack || strings.HasSuffix(s.Name, "/"+o.Stack)
	}) {
		return nil, fmt.Errorf("stack %s exists already; the suite creates its own (omit -stack for a fresh name)",
			o.Stack)
	}
	st, err := c.Manager.Stack(ctx, o.Stack)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", o.Stack, err)
	}
	cfg := auto.ConfigMap{}
	for k, v := range c.base {
		cfg[k] = v
	}
	cfg[stacks.Namespace+":environment"] = auto.ConfigValue{Value: string(stacks.Ephemeral)}
	cfg[stacks.Namespace+":expiresAt"] = auto.ConfigValue{Value: time.Now().Add(o.TTL).UTC().Format(time.RFC3339)}
	cfg["aws:region"] = auto.ConfigValue{Value: c.Region}
	if o.Hosting != "" {
		cfg[e2e.HostingKey] = auto.ConfigValue{Value: o.Hosting}
	}
	if cfg[e2e.HostingKey].Value == e2e.FleetHosting && cfg[stacks.Namespace+":domain"].Value == "" {
		// A fleet is served through the front door only (the program refuses it too, later and after the create).
		rmErr := ws.RemoveStack(ctx, o.Stack)
		return nil, errors.Join(fmt.Errorf("%w: -hosting fleet: base stack %s sets no %s:domain; a fleet is "+
			"served through the front door", e2e.ErrUsage, o.Base, stacks.Namespace), rmErr)
	}
	if err := st.SetAllConfig(ctx, cfg); err != nil {
		// Nothing is deployed yet: remove the empty stack rather than leave it for the reaper.
		rmErr := ws.RemoveStack(ctx, o.Stack)
		return nil, errors.Join(fmt.Errorf("stack %s: setting configuration: %w", o.Stack, err), rmErr)
	}
	return &stack{c: c, name: o.Stack, st: st}, nil
}

type stack struct {
	c    *Cloud
	name string
	st   auto.Stack
}

func (s *stack) Name() string { return s.name }

func (s *stack) Services(ctx context.Context) (string, error) {
	v, err := s.st.GetConfig(ctx, e2e.ServicesKey)
	return v.Value, err
}

// Hosting is the stack's appstack:hosting, single when unset.
func (s *stack) Hosting(ctx context.Context) (string, error) {
	// The whole map, so that an unset key reads as the default rather than as an error.
	all, err := s.st.GetAllConfig(ctx)
	if err != nil {
		return "", err
	}
	if v := all[e2e.HostingKey].Value; v != "" {
		return v, nil
	}
	return e2e.SingleHosting, nil
}

func (s *stack) SetServices(ctx context.Context, value string) error {
	return s.st.SetConfig(ctx, e2e.ServicesKey, auto.ConfigValue{Value: value})
}

// Up runs `pulumi up` with the Manager, its output to Progress, and turns the engine's events into e2e.Events as
// they arrive: finished and failed resource steps, and each line of every diagnostic.
func (s *stack) Up(ctx context.Context, sink func(e2e.Event)) (e2e.Outputs, error) {
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			now := time.Now()
			switch {
			case ev.ResOutputsEvent != nil:
				md := ev.ResOutputsEvent.Metadata
				sink(e2e.Event{At: now, Type: md.Type, Op: string(md.Op), URN: md.URN})
			case ev.ResOpFailedEvent != nil:
				md := ev.ResOpFailedEvent.Metadata
				sink(e2e.Event{At: now, Type: md.Type, Op: string(md.Op), URN: md.URN, Failed: true})
			case ev.DiagnosticEvent != nil:
				sc := bufio.NewScanner(strings.NewReader(ev.DiagnosticEvent.Message))
				for sc.Scan() {
					if line := strings.TrimSpace(sc.Text()); line != "" {
						sink(e2e.Event{At: now, Message: line})
					}
				}
			}
		}
	}()
	res, err := s.c.Manager.Up(ctx, s.name, optup.EventStreams(ch), optup.ProgressStreams(s.c.Progress))
	<-done // the Automation API closes the channel once it has sent every event
	if err != nil {
		return e2e.Outputs{}, err
	}
	plain := map[string]any{}
	for k, v := range res.Outputs {
		plain[k] = v.Value
	}
	hosting, err := s.Hosting(ctx)
	if err != nil {
		return e2e.Outputs{}, err
	}
	return e2e.ParseOutputs(plain, hosting)
}

func (s *stack) Destroy(ctx context.Context) error { return s.c.Manager.Destroy(ctx, s.name) }

// Identity returns the caller's ARN from STS GetCallerIdentity, bounded by timeout: the one AWS call made before
// anything is created, so that bad credentials fail at once.
func Identity(ctx context.Context, cfg aws.Config, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}

// States reads a resource's state from its own service, for e2e.Scanner.
type States struct {
	EC2 *ec2.Client
	KMS *kms.Client
}

// InstanceState is the instance's state from ec2:DescribeInstances, "" when EC2 does not know it.
func (s States) InstanceState(ctx context.Context, id string) (string, error) {
	out, err := s.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if e2e.NotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if aws.ToString(i.InstanceId) == id && i.State != nil {
				return string(i.State.Name), nil
			}
		}
	}
	return "", nil
}

// VolumeState is the volume's state from ec2:DescribeVolumes, "" when EC2 does not know it.
func (s States) VolumeState(ctx context.Context, id string) (string, error) {
	out, err := s.EC2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
	if e2e.NotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, v := range out.Volumes {
		if aws.ToString(v.VolumeId) == id {
			return string(v.State), nil
		}
	}
	return "", nil
}

// KeyState is the key's state from kms:DescribeKey, "" when KMS does not know it.
func (s States) KeyState(ctx context.Context, id string) (string, error) {
	out, err := s.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if e2e.NotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(out.KeyMetadata.KeyState), nil
}

// Groups reads a fleet's Auto Scaling group for e2e.FleetCheck.
type Groups struct{ AutoScaling *autoscaling.Client }

// Group describes the group (autoscaling:DescribeAutoScalingGroups) and its newest instance refresh
// (autoscaling:DescribeInstanceRefreshes, which lists the newest first).
func (g Groups) Group(ctx context.Context, name string) (e2e.GroupState, error) {
	out, err := g.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name}})
	if err != nil {
		return e2e.GroupState{}, err
	}
	if len(out.AutoScalingGroups) == 0 {
		return e2e.GroupState{}, fmt.Errorf("no Auto Scaling group %s", name)
	}
	a := out.AutoScalingGroups[0]
	st := e2e.GroupState{Name: name, Min: int(aws.ToInt32(a.MinSize)), Desired: int(aws.ToInt32(a.DesiredCapacity)),
		Version: rollout.Version(a.MixedInstancesPolicy)}
	if st.Version == "" && a.LaunchTemplate != nil {
		st.Version = aws.ToString(a.LaunchTemplate.Version)
	}
	for _, i := range a.Instances {
		v := ""
		if i.LaunchTemplate != nil {
			v = aws.ToString(i.LaunchTemplate.Version)
		}
		st.Instances = append(st.Instances, e2e.GroupInstance{ID: aws.ToString(i.InstanceId), Version: v,
			Lifecycle: string(i.LifecycleState), Health: aws.ToString(i.HealthStatus)})
	}
	refreshes, err := g.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(name), MaxRecords: aws.Int32(1)})
	if err != nil {
		return e2e.GroupState{}, err
	}
	if len(refreshes.InstanceRefreshes) > 0 {
		r := refreshes.InstanceRefreshes[0]
		st.LastRefresh = &e2e.Refresh{ID: aws.ToString(r.InstanceRefreshId), Status: string(r.Status),
			StatusReason: aws.ToString(r.StatusReason)}
	}
	return st, nil
}

// Params lists SSM parameters for e2e.Scanner.
type Params struct{ SSM *ssm.Client }

// Parameters lists the parameter names under path, recursively, every page.
func (p Params) Parameters(ctx context.Context, path string) ([]string, error) {
	var names []string
	pages := ssm.NewGetParametersByPathPaginator(p.SSM, &ssm.GetParametersByPathInput{
		Path: aws.String(path), Recursive: aws.Bool(true),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, prm := range page.Parameters {
			names = append(names, aws.ToString(prm.Name))
		}
	}
	return names, nil
}
