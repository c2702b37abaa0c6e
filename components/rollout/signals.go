package rollout

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SignalStore is the part of SSM Parameter Store a fleet deploy reads and prunes its hosts' readiness signals
// with; *ssm.Client implements it.
type SignalStore interface {
	GetParametersByPath(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (
		*ssm.GetParametersByPathOutput, error)
	DeleteParameters(context.Context, *ssm.DeleteParametersInput, ...func(*ssm.Options)) (
		*ssm.DeleteParametersOutput, error)
}

// NewSignalStore builds the SignalStore for an identity: awsclient.NewSignalStore with the AWS SDK's credential
// chain, or a stand-in in tests (fleet.Args.NewSignalStore).
type NewSignalStore func(context.Context, Identity) (SignalStore, error)

// ErrNoSignalStore is a deploy of a fleet by a program that passed no SSM client.
var ErrNoSignalStore = errors.New("no SSM client: fleet.Args.NewSignalStore is unset (appstack.Args.Clients " +
	"defaults to awsclient's)")

// The bounds of a listing. GetParametersByPath returns at most 10 parameters a page (MaxResults, 1-10:
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html), and an account
// holds at most 10,000 standard parameters per Region (ParameterLimitExceeded past it: "Delete one or more
// parameters and try again"), so a listing that never ends, or a prefix that keeps every host's signal, would
// cost a deploy a call per ten hosts ever launched on every poll, and one day the stack's boots their signals.
const (
	// SignalPageSize is GetParametersByPath's largest page.
	SignalPageSize = 10
	// MaxSignalPages bounds one listing: 500 signals, five times the largest fleet (stacks: 100 hosts), which
	// the pruning after every successful rollout keeps it well under.
	MaxSignalPages = 50
	// deleteBatch is DeleteParameters' largest request (Names: 1-10 items,
	// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DeleteParameters.html).
	deleteBatch = 10
)

// ListSignals lists the readiness signals directly under prefix, by instance id (the parameter's last path
// element), in pages of SignalPageSize and at most MaxSignalPages of them: past that it fails, naming the prefix.
func ListSignals(ctx context.Context, store SignalStore, prefix string) (map[string]string, error) {
	if store == nil {
		return nil, ErrNoSignalStore
	}
	prefix = strings.TrimSuffix(prefix, "/")
	out := map[string]string{}
	var token *string
	for page := 0; ; page++ {
		if page == MaxSignalPages {
			return nil, fmt.Errorf("more than %d readiness signals under %s: each is a standard parameter of the "+
				"account's 10,000; delete the signals of hosts that no longer run (aws ssm get-parameters-by-path "+
				"--path %s, then aws ssm delete-parameters --names ...) and deploy again", MaxSignalPages*SignalPageSize,
				prefix, prefix)
		}
		res, err := store.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String(prefix),
			MaxResults: aws.Int32(SignalPageSize), NextToken: token, WithDecryption: aws.Bool(false)})
		if err != nil {
			return nil, fmt.Errorf("listing the readiness signals under %s (GetParametersByPath): %w", prefix, err)
		}
		for _, p := range res.Parameters {
			if name := aws.ToString(p.Name); path.Dir(name) == prefix {
				out[path.Base(name)] = aws.ToString(p.Value)
			}
		}
		if token = res.NextToken; aws.ToString(token) == "" {
			return out, nil
		}
	}
}

// Prune deletes the readiness signals under prefix of hosts that are no longer in the group, after a rollout
// that put the version in service: a terminated host's signal says nothing any more, and every one left costs a
// standard parameter and a listing. The signals are listed before the group is read, so that a host launched in
// between (whose signal may not exist yet when listed) is never pruned. It returns how many it deleted.
func (r *Rollout) Prune(ctx context.Context, store SignalStore, group, prefix string) (int, error) {
	r.defaults()
	signals, err := ListSignals(ctx, store, prefix)
	if err != nil {
		return 0, err
	}
	g, err := r.group(ctx, group)
	if err != nil {
		return 0, err
	}
	in := map[string]bool{}
	for _, i := range g.Instances {
		in[aws.ToString(i.InstanceId)] = true
	}
	var stale []string
	for id := range signals {
		if strings.HasPrefix(id, "i-") && !in[id] {
			stale = append(stale, strings.TrimSuffix(prefix, "/")+"/"+id)
		}
	}
	slices.Sort(stale)
	deleted := 0
	for batch := range slices.Chunk(stale, deleteBatch) {
		res, err := store.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: batch})
		if err != nil {
			return deleted, fmt.Errorf("pruning the readiness signals of hosts no longer in group %s "+
				"(DeleteParameters): %w", group, err)
		}
		deleted += len(res.DeletedParameters)
	}
	if deleted > 0 {
		r.logf("group %s: pruned the readiness signals of %d host(s) no longer in the group", group, deleted)
	}
	return deleted, nil
}
