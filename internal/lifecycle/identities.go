package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"appstack/components/identity"
)

// A review stack's host role and instance profile are created under identity.Path by the review role. A run that
// fails or is cancelled after creating one but before its state lists it leaves it in no stack, so no destroy
// removes it, and a role outlives its pull request. The reaper removes every such role and instance profile:
// tagged with a review stack (pr-*), older than MinIdentityAge, and named in no existing stack's state.

// MinIdentityAge is how old an unlisted role or instance profile must be before the reaper removes it: a deploy
// in flight may have created it a moment before its checkpoint names it.
const MinIdentityAge = time.Hour

// HostIdentity is an IAM role or instance profile under identity.Path.
type HostIdentity struct {
	// Kind is "role" or "instance-profile".
	Kind string
	// Name is its IAM name.
	Name string
	// Stack is its `stack` tag ("" if it has none).
	Stack string
	// Created is when IAM created it.
	Created time.Time
}

// IdentityStore lists and deletes the roles and instance profiles under identity.Path.
type IdentityStore interface {
	// List returns every role and instance profile under identity.Path with its stack tag.
	List(ctx context.Context) ([]HostIdentity, error)
	// Delete deletes one, with whatever it holds (a role's policies and profile memberships, a profile's role).
	Delete(ctx context.Context, id HostIdentity) error
}

// IAMAPI is the part of the IAM client the clean-up uses.
type IAMAPI interface {
	iam.ListRolesAPIClient
	iam.ListInstanceProfilesAPIClient
	ListRoleTags(ctx context.Context, in *iam.ListRoleTagsInput, opts ...func(*iam.Options)) (*iam.ListRoleTagsOutput, error)
	ListInstanceProfileTags(ctx context.Context, in *iam.ListInstanceProfileTagsInput, opts ...func(*iam.Options)) (
		*iam.ListInstanceProfileTagsOutput, error)
	iam.ListInstanceProfilesForRoleAPIClient
	iam.ListRolePoliciesAPIClient
	iam.ListAttachedRolePoliciesAPIClient
	GetInstanceProfile(ctx context.Context, in *iam.GetInstanceProfileInput, opts ...func(*iam.Options)) (
		*iam.GetInstanceProfileOutput, error)
	RemoveRoleFromInstanceProfile(ctx context.Context, in *iam.RemoveRoleFromInstanceProfileInput,
		opts ...func(*iam.Options)) (*iam.RemoveRoleFromInstanceProfileOutput, error)
	DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, opts ...func(*iam.Options)) (
		*iam.DeleteRolePolicyOutput, error)
	DetachRolePolicy(ctx context.Context, in *iam.DetachRolePolicyInput, opts ...func(*iam.Options)) (
		*iam.DetachRolePolicyOutput, error)
	DeleteRole(ctx context.Context, in *iam.DeleteRoleInput, opts ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
	DeleteInstanceProfile(ctx context.Context, in *iam.DeleteInstanceProfileInput, opts ...func(*iam.Options)) (
		*iam.DeleteInstanceProfileOutput, error)
}

// IAMStore lists and deletes host identities with an aws-sdk-go-v2 IAM client.
type IAMStore struct {
	// Client is used when set (tests); otherwise one is made from the standard configuration chain.
	Client IAMAPI
}

func (s IAMStore) client(ctx context.Context) (IAMAPI, error) {
	if s.Client != nil {
		return s.Client, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

func stackTag(tags []iamtypes.Tag) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == "stack" {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// List pages through ListRoles and ListInstanceProfiles under identity.Path, which return no tags, and reads each
// one's tags.
func (s IAMStore) List(ctx context.Context) ([]HostIdentity, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	var out []HostIdentity
	roles := iam.NewListRolesPaginator(c, &iam.ListRolesInput{PathPrefix: aws.String(identity.Path)})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing roles under %s: %w", identity.Path, err)
		}
		for _, r := range page.Roles {
			tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", aws.ToString(r.RoleName), err)
			}
			out = append(out, HostIdentity{Kind: "role", Name: aws.ToString(r.RoleName), Stack: stackTag(tags.Tags),
				Created: aws.ToTime(r.CreateDate)})
		}
	}
	profiles := iam.NewListInstanceProfilesPaginator(c, &iam.ListInstanceProfilesInput{
		PathPrefix: aws.String(identity.Path)})
	for profiles.HasMorePages() {
		page, err := profiles.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing instance profiles under %s: %w", identity.Path, err)
		}
		for _, p := range page.InstanceProfiles {
			tags, err := c.ListInstanceProfileTags(ctx, &iam.ListInstanceProfileTagsInput{
				InstanceProfileName: p.InstanceProfileName})
			if err != nil {
				return nil, fmt.Errorf("instance profile %s: %w", aws.ToString(p.InstanceProfileName), err)
			}
			out = append(out, HostIdentity{Kind: "instance-profile", Name: aws.ToString(p.InstanceProfileName),
				Stack: stackTag(tags.Tags), Created: aws.ToTime(p.CreateDate)})
		}
	}
	return out, nil
}

// Delete empties a role (its instance profiles, inline and attached policies) before DeleteRole, and a profile
// (its role) before DeleteInstanceProfile, as IAM requires
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage_delete.html#roles-managingrole-deleting-api).
func (s IAMStore) Delete(ctx context.Context, id HostIdentity) error {
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	name := aws.String(id.Name)
	switch id.Kind {
	case "instance-profile":
		p, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: name})
		if err != nil {
			return err
		}
		for _, r := range p.InstanceProfile.Roles {
			if _, err := c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
				InstanceProfileName: name, RoleName: r.RoleName}); err != nil {
				return err
			}
		}
		_, err = c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: name})
		return err
	case "role":
		profiles := iam.NewListInstanceProfilesForRolePaginator(c, &iam.ListInstanceProfilesForRoleInput{RoleName: name})
		for profiles.HasMorePages() {
			page, err := profiles.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, p := range page.InstanceProfiles {
				if _, err := c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
					InstanceProfileName: p.InstanceProfileName, RoleName: name}); err != nil {
					return err
				}
			}
		}
		inline := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: name})
		for inline.HasMorePages() {
			page, err := inline.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, p := range page.PolicyNames {
				if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: name,
					PolicyName: aws.String(p)}); err != nil {
					return err
				}
			}
		}
		attached := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: name})
		for attached.HasMorePages() {
			page, err := attached.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, p := range page.AttachedPolicies {
				if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: name,
					PolicyArn: p.PolicyArn}); err != nil {
					return err
				}
			}
		}
		_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: name})
		return err
	}
	return fmt.Errorf("%s %s: not a role or instance profile", id.Kind, id.Name)
}

// OrphanedIdentities are the identities of review stacks (pr-*) that no state lists and that are older than
// MinIdentityAge at now. listed holds the names of the roles and instance profiles every existing stack's state
// holds.
func OrphanedIdentities(all []HostIdentity, listed map[string]bool, now time.Time) []HostIdentity {
	var out []HostIdentity
	for _, id := range all {
		if strings.HasPrefix(id.Stack, ReviewPrefix) && !listed[id.Kind+"/"+id.Name] &&
			now.Sub(id.Created) >= MinIdentityAge {
			out = append(out, id)
		}
	}
	// Roles first: a role leaves its profiles as it goes, and a profile then holds no role.
	slices.SortStableFunc(out, func(a, b HostIdentity) int { return strings.Compare(b.Kind, a.Kind) })
	return out
}

// identityTypes are the resource types whose physical name is a host identity's name, by kind.
var identityTypes = map[string]string{
	"aws:iam/role:Role":                       "role",
	"aws:iam/instanceProfile:InstanceProfile": "instance-profile",
}

// reapIdentities removes the review stacks' roles and instance profiles that no review stack's state lists. Only
// the review role may tag a role or instance profile pr-*, and only into a review stack's state, so the review
// stacks' states are all it reads: the review role, which runs it, may not read staging's or production's
// checkpoints beyond staging's (bootstrap.Specs). A review stack's state it cannot read stops it: it never
// removes what it cannot prove is unlisted.
func (m *Manager) reapIdentities(ctx context.Context, ws auto.Workspace) error {
	list, err := ws.ListStacks(ctx)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, s := range list {
		name := shortName(s.Name)
		if !strings.HasPrefix(name, ReviewPrefix) {
			continue
		}
		d, err := readDeployment(ctx, ws, name)
		if err != nil {
			return fmt.Errorf("reap roles: stack %s: %w; no role or instance profile was removed", name, err)
		}
		for _, r := range d.Resources {
			if kind, ok := identityTypes[r.Type]; ok {
				if n, _ := r.Outputs["name"].(string); n != "" {
					listed[kind+"/"+n] = true
				}
			}
		}
	}
	store := m.Identities
	if store == nil {
		store = IAMStore{}
	}
	all, err := store.List(ctx)
	if err != nil {
		return fmt.Errorf("reap roles: %w", err)
	}
	var errs []error
	for _, id := range OrphanedIdentities(all, listed, m.now()) {
		if err := store.Delete(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("reap roles: %s %s (stack %s): %w", id.Kind, id.Name, id.Stack, err))
			continue
		}
		m.progress(id.Stack, "removed %s %s%s, which no stack's state lists", id.Kind, identity.Path, id.Name)
	}
	return errors.Join(errs...)
}
