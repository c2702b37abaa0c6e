// Package targethealth waits until a target registered in a load balancer's target groups is in service: healthy
// in every one of them, as Elastic Load Balancing's DescribeTargetHealth reports it. A newly registered target is
// first "initial" with the reason Elb.RegistrationInProgress, then Elb.InitialHealthChecking, and "healthy" only
// after it has passed the group's healthy threshold of checks
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html). How long the
// registration itself takes is not set by any health-check setting, so a deploy that deregisters the previous
// target must read the health rather than wait a fixed time.
package targethealth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"appstack/components/rollout"
)

// API is the part of the Elastic Load Balancing v2 API a wait calls; *elasticloadbalancingv2.Client implements it.
type API interface {
	DescribeTargetHealth(context.Context, *elb.DescribeTargetHealthInput, ...func(*elb.Options)) (
		*elb.DescribeTargetHealthOutput, error)
}

// NewClient builds the API for the deploy's identity (the AWS provider's region, profile, keys and assumed
// roles, rollout.Identity): awsclient.NewTargetHealth with the AWS SDK's credential chain, or a stand-in in tests.
// The program passes it in (host.Args.NewTargetHealth), so the chain is linked only where it is used.
type NewClient func(context.Context, rollout.Identity) (API, error)

// Build is the client newClient builds for id, or ErrNoClient when there is no newClient.
func (newClient NewClient) Build(ctx context.Context, id rollout.Identity) (API, error) {
	if newClient == nil {
		return nil, ErrNoClient
	}
	return newClient(ctx, id)
}

// ErrNoClient is a wait by a program that passed no Elastic Load Balancing client.
var ErrNoClient = errors.New("no Elastic Load Balancing client: host.Args.NewTargetHealth is unset " +
	"(appstack.Args.Clients defaults to awsclient's)")

// DefaultPoll is how often a wait reads the target's health: the front door's health-check interval.
const DefaultPoll = 5 * time.Second

// Target is one registration: the target group and the port the instance is registered on.
type Target struct {
	GroupArn string
	Port     int
}

// Wait polls until instanceID is healthy in every target group of targets, or timeout passes; then it fails
// naming each group's last state and reason. log receives a line whenever a group's state changes (optional).
func Wait(ctx context.Context, api API, instanceID string, targets []Target, timeout, poll time.Duration,
	log func(string)) error {
	if api == nil {
		return ErrNoClient
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	if log == nil {
		log = func(string) {}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := map[string]string{}
	for {
		pending := 0
		for _, t := range targets {
			state, err := read(ctx, api, instanceID, t)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			if state != last[t.GroupArn] {
				log(fmt.Sprintf("target %s in %s: %s", instanceID, groupName(t.GroupArn), state))
				last[t.GroupArn] = state
			}
			if state != string(types.TargetHealthStateEnumHealthy) {
				pending++
			}
		}
		if pending == 0 && ctx.Err() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			var parts []string
			for _, t := range targets {
				parts = append(parts, fmt.Sprintf("%s: %s", groupName(t.GroupArn), or(last[t.GroupArn], "not read")))
			}
			return fmt.Errorf("target %s was not healthy in every target group within %s (%s); the previous "+
				"target stays registered", instanceID, timeout, strings.Join(parts, "; "))
		case <-time.After(poll):
		}
	}
}

// read is one target's state in one group, "<state>" or "<state> (<reason>)".
func read(ctx context.Context, api API, instanceID string, t Target) (string, error) {
	out, err := api.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(t.GroupArn),
		Targets:        []types.TargetDescription{{Id: aws.String(instanceID), Port: aws.Int32(int32(t.Port))}},
	})
	if err != nil {
		return "", fmt.Errorf("DescribeTargetHealth %s (the deploy needs elasticloadbalancing:DescribeTargetHealth): "+
			"%w", groupName(t.GroupArn), err)
	}
	for _, d := range out.TargetHealthDescriptions {
		if d.Target == nil || aws.ToString(d.Target.Id) != instanceID || d.TargetHealth == nil {
			continue
		}
		state := string(d.TargetHealth.State)
		if d.TargetHealth.Reason != "" {
			state += " (" + string(d.TargetHealth.Reason) + ")"
		}
		return state, nil
	}
	return "unused (" + string(types.TargetHealthReasonEnumNotRegistered) + ")", nil
}

// groupName is the target group's name from its ARN (...:targetgroup/<name>/<id>).
func groupName(arn string) string {
	if _, rest, ok := strings.Cut(arn, ":targetgroup/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		return name
	}
	return arn
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Hosts reads once, for each of instanceIDs, its state in every target group of targets: one DescribeTargetHealth
// per target group naming the hosts (API_DescribeTargetHealth, Targets.member.N; a host that is not registered
// comes back "unused" with the reason Target.NotRegistered). healthy are the hosts healthy in every group, in the
// order given; states names each group with the state of every host not healthy there ("" when all are). A
// Target's Port 0 leaves the port out: the group's own port, on which Auto Scaling registers a fleet's hosts.
func Hosts(ctx context.Context, api API, instanceIDs []string, targets []Target) (healthy []string, states string,
	err error) {
	if api == nil {
		return nil, "", ErrNoClient
	}
	unhealthy := map[string]bool{}
	var parts []string
	for _, t := range targets {
		in := &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(t.GroupArn)}
		for _, id := range instanceIDs {
			d := types.TargetDescription{Id: aws.String(id)}
			if t.Port != 0 {
				d.Port = aws.Int32(int32(t.Port))
			}
			in.Targets = append(in.Targets, d)
		}
		out, err := api.DescribeTargetHealth(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("DescribeTargetHealth %s (the deploy needs "+
				"elasticloadbalancing:DescribeTargetHealth): %w", groupName(t.GroupArn), err)
		}
		state := map[string]string{}
		for _, d := range out.TargetHealthDescriptions {
			if d.Target == nil || d.TargetHealth == nil {
				continue
			}
			s := string(d.TargetHealth.State)
			if d.TargetHealth.Reason != "" {
				s += " (" + string(d.TargetHealth.Reason) + ")"
			}
			state[aws.ToString(d.Target.Id)] = s
		}
		var bad []string
		for _, id := range instanceIDs {
			s := or(state[id], "unused ("+string(types.TargetHealthReasonEnumNotRegistered)+")")
			if s != string(types.TargetHealthStateEnumHealthy) {
				unhealthy[id] = true
				bad = append(bad, id+" "+s)
			}
		}
		if len(bad) > 0 {
			parts = append(parts, groupName(t.GroupArn)+": "+strings.Join(bad, ", "))
		}
	}
	for _, id := range instanceIDs {
		if !unhealthy[id] {
			healthy = append(healthy, id)
		}
	}
	return healthy, strings.Join(parts, "; "), nil
}
