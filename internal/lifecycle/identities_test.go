//go:build engine

// The reaper's tests run in the engine tests' binary: package lifecycle links the Pulumi SDK, and one more test
// binary that links it costs seconds of linking on every `go test ./...` (cmd/bench's budget).

package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optlist"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateWorkspace answers ListStacks and ExportStack from fixed deployments, as the DIY backend would; a stack
// mapped to nil cannot be exported.
type stateWorkspace struct {
	auto.Workspace
	states map[string]map[string]any
}

func (w stateWorkspace) ListStacks(context.Context, ...optlist.Option) ([]auto.StackSummary, error) {
	var out []auto.StackSummary
	for n := range w.states {
		out = append(out, auto.StackSummary{Name: n})
	}
	return out, nil
}

func (w stateWorkspace) ExportStack(_ context.Context, name string) (apitype.UntypedDeployment, error) {
	d := w.states[name]
	if d == nil {
		return apitype.UntypedDeployment{}, errors.New("the checkpoint is unreadable")
	}
	raw, err := json.Marshal(d)
	return apitype.UntypedDeployment{Version: 3, Deployment: raw}, err
}

func withIdentities(names ...string) map[string]any {
	var res []any
	for _, n := range names {
		typ := "aws:iam/role:Role"
		if len(n) > 8 && n[len(n)-8:] == "-profile" {
			typ = "aws:iam/instanceProfile:InstanceProfile"
		}
		res = append(res, map[string]any{"urn": "urn:" + n, "type": typ, "outputs": map[string]any{"name": n}})
	}
	return map[string]any{"resources": res}
}

// memoryIdentities is IAM's list of roles and instance profiles under /appstack/.
type memoryIdentities struct {
	ids     []HostIdentity
	deleted []string
}

func (m *memoryIdentities) List(context.Context) ([]HostIdentity, error) { return m.ids, nil }

func (m *memoryIdentities) Delete(_ context.Context, id HostIdentity) error {
	m.deleted = append(m.deleted, id.Kind+"/"+id.Name)
	return nil
}

func TestTheReaperRemovesReviewRolesNoStateLists(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Hour)
	store := &memoryIdentities{ids: []HostIdentity{
		{Kind: "role", Name: "app-identity-role-left", Stack: "pr-7", Created: old},
		{Kind: "instance-profile", Name: "app-identity-left-profile", Stack: "pr-7", Created: old},
		{Kind: "role", Name: "app-identity-role-kept", Stack: "pr-9", Created: old},
		{Kind: "instance-profile", Name: "app-identity-kept-profile", Stack: "pr-9", Created: old},
		{Kind: "role", Name: "app-identity-role-new", Stack: "pr-9", Created: now.Add(-time.Minute)},
		{Kind: "role", Name: "app-identity-role-staging", Stack: "staging", Created: old},
		{Kind: "role", Name: "app-identity-role-untagged", Created: old},
	}}
	m := &Manager{Identities: store, Now: func() time.Time { return now }, Progress: io.Discard}
	ws := stateWorkspace{states: map[string]map[string]any{
		"pr-9":    withIdentities("app-identity-role-kept", "app-identity-kept-profile"),
		"staging": withIdentities(),
	}}
	require.NoError(t, m.reapIdentities(context.Background(), ws))
	assert.Equal(t, []string{"role/app-identity-role-left", "instance-profile/app-identity-left-profile"},
		store.deleted, "a review stack's role and profile that no state lists go, the role first; staging's, "+
			"untagged ones, listed ones and one a deploy may be creating right now stay")

	t.Run("a state it cannot read removes nothing", func(t *testing.T) {
		store.deleted = nil
		ws.states["pr-11"] = nil
		err := m.reapIdentities(context.Background(), ws)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "stack pr-11")
		assert.Empty(t, store.deleted)
	})
}

// The review role that runs the reaper cannot read production's checkpoint: the reaper reads only the review
// stacks' states, which alone can list a pr-* role.
func TestTheReaperReadsOnlyReviewStacksStates(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Hour)
	store := &memoryIdentities{ids: []HostIdentity{
		{Kind: "role", Name: "app-identity-role-left", Stack: "pr-7", Created: old},
		{Kind: "role", Name: "app-identity-role-kept", Stack: "pr-9", Created: old},
		{Kind: "role", Name: "app-identity-role-production", Stack: "production", Created: old},
	}}
	m := &Manager{Identities: store, Now: func() time.Time { return now }, Progress: io.Discard}
	ws := stateWorkspace{states: map[string]map[string]any{
		"pr-9":       withIdentities("app-identity-role-kept"),
		"staging":    withIdentities(),
		"production": nil,
	}}
	require.NoError(t, m.reapIdentities(context.Background(), ws))
	assert.Equal(t, []string{"role/app-identity-role-left"}, store.deleted)
}

// fakeIAM keeps roles with their policies and profiles, and refuses DeleteRole and DeleteInstanceProfile while
// anything is left, as IAM does (DeleteConflict).
type fakeIAM struct {
	IAMAPI
	inline, attached map[string][]string // by role
	profiles         map[string][]string // profile → roles
	roles            map[string]bool
}

func (f *fakeIAM) ListInstanceProfilesForRole(_ context.Context, in *iam.ListInstanceProfilesForRoleInput,
	_ ...func(*iam.Options)) (*iam.ListInstanceProfilesForRoleOutput, error) {
	out := &iam.ListInstanceProfilesForRoleOutput{}
	for p, roles := range f.profiles {
		for _, r := range roles {
			if r == aws.ToString(in.RoleName) {
				out.InstanceProfiles = append(out.InstanceProfiles, iamtypes.InstanceProfile{InstanceProfileName: aws.String(p)})
			}
		}
	}
	return out, nil
}

func (f *fakeIAM) ListRolePolicies(_ context.Context, in *iam.ListRolePoliciesInput,
	_ ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error) {
	return &iam.ListRolePoliciesOutput{PolicyNames: f.inline[aws.ToString(in.RoleName)]}, nil
}

func (f *fakeIAM) ListAttachedRolePolicies(_ context.Context, in *iam.ListAttachedRolePoliciesInput,
	_ ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	out := &iam.ListAttachedRolePoliciesOutput{}
	for _, a := range f.attached[aws.ToString(in.RoleName)] {
		out.AttachedPolicies = append(out.AttachedPolicies, iamtypes.AttachedPolicy{PolicyArn: aws.String(a)})
	}
	return out, nil
}

func (f *fakeIAM) RemoveRoleFromInstanceProfile(_ context.Context, in *iam.RemoveRoleFromInstanceProfileInput,
	_ ...func(*iam.Options)) (*iam.RemoveRoleFromInstanceProfileOutput, error) {
	p := aws.ToString(in.InstanceProfileName)
	var kept []string
	for _, r := range f.profiles[p] {
		if r != aws.ToString(in.RoleName) {
			kept = append(kept, r)
		}
	}
	f.profiles[p] = kept
	return &iam.RemoveRoleFromInstanceProfileOutput{}, nil
}

func (f *fakeIAM) DeleteRolePolicy(_ context.Context, in *iam.DeleteRolePolicyInput,
	_ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	r := aws.ToString(in.RoleName)
	f.inline[r] = remove(f.inline[r], aws.ToString(in.PolicyName))
	return &iam.DeleteRolePolicyOutput{}, nil
}

func (f *fakeIAM) DetachRolePolicy(_ context.Context, in *iam.DetachRolePolicyInput,
	_ ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error) {
	r := aws.ToString(in.RoleName)
	f.attached[r] = remove(f.attached[r], aws.ToString(in.PolicyArn))
	return &iam.DetachRolePolicyOutput{}, nil
}

func (f *fakeIAM) DeleteRole(_ context.Context, in *iam.DeleteRoleInput,
	_ ...func(*iam.Options)) (*iam.DeleteRoleOutput, error) {
	r := aws.ToString(in.RoleName)
	out, _ := f.ListInstanceProfilesForRole(context.Background(), &iam.ListInstanceProfilesForRoleInput{RoleName: in.RoleName})
	if len(f.inline[r]) > 0 || len(f.attached[r]) > 0 || len(out.InstanceProfiles) > 0 {
		return nil, fmt.Errorf("DeleteConflict: role %s still has policies or instance profiles", r)
	}
	delete(f.roles, r)
	return &iam.DeleteRoleOutput{}, nil
}

func remove(list []string, v string) []string {
	var out []string
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func TestIAMStoreEmptiesARoleBeforeDeletingIt(t *testing.T) {
	f := &fakeIAM{
		inline:   map[string][]string{"r": {"app-identity-policy"}},
		attached: map[string][]string{"r": {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}},
		profiles: map[string][]string{"p": {"r"}},
		roles:    map[string]bool{"r": true},
	}
	require.NoError(t, IAMStore{Client: f}.Delete(context.Background(), HostIdentity{Kind: "role", Name: "r"}))
	assert.False(t, f.roles["r"])
	assert.Empty(t, f.profiles["p"])
}
