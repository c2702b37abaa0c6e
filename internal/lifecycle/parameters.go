package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The readiness signals a stack's hosts write (/<project>/<stack>/<app>/ready/<instance id>) are SSM parameters
// the hosts put themselves, not Pulumi resources, so `pulumi destroy` leaves them behind. Destroy removes every
// parameter left under the stack's own path, /<project>/<stack>/, once the stack's resources are gone (the
// secret parameters under it are Pulumi's and already deleted by then).

// ParameterStore deletes what is left under an SSM path.
type ParameterStore interface {
	// DeletePath deletes every parameter under path (recursively) in the given region, with the credentials of
	// the given AWS profile ("" for the default chain), and returns their names.
	DeletePath(ctx context.Context, region, profile, path string) ([]string, error)
}

// StackPath is the SSM path under which a stack's parameters live: /<project>/<stack>/.
func StackPath(project, stack string) string { return "/" + project + "/" + stack + "/" }

// awsProvider is the region and profile the stack's default AWS provider used, from its last deployment, so the
// clean-up reads and deletes with the same account and region as the deploy did.
func (d deployment) awsProvider() (region, profile string) {
	for _, r := range d.Resources {
		if r.Type != "pulumi:providers:aws" || !strings.Contains(r.URN, "::default") {
			continue
		}
		// A provider's state holds its configuration; read the inputs where the outputs lack it.
		for _, props := range []map[string]any{r.Outputs, r.Inputs} {
			if region == "" {
				region, _ = props["region"].(string)
			}
			if profile == "" {
				profile, _ = props["profile"].(string)
			}
		}
		return region, profile
	}
	return "", ""
}

// SSMAPI is the part of the SSM client the clean-up uses.
type SSMAPI interface {
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (
		*ssm.GetParametersByPathOutput, error)
	DeleteParameters(ctx context.Context, in *ssm.DeleteParametersInput, opts ...func(*ssm.Options)) (
		*ssm.DeleteParametersOutput, error)
}

// SSMStore deletes parameters with an aws-sdk-go-v2 SSM client.
type SSMStore struct {
	// Client is used when set (tests); otherwise one is made from the standard configuration chain for the
	// region and profile of each call.
	Client SSMAPI
}

// DeletePath lists the parameters under path, page by page, and deletes them ten at a time (DeleteParameters
// takes at most ten names: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DeleteParameters.html).
func (s SSMStore) DeletePath(ctx context.Context, region, profile, path string) ([]string, error) {
	client := s.Client
	if client == nil {
		opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
		if profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, err
		}
		client = ssm.NewFromConfig(cfg)
	}
	var names []string
	var next *string
	for {
		out, err := client.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String(
			strings.TrimSuffix(path, "/")), Recursive: aws.Bool(true), NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", path, err)
		}
		for _, p := range out.Parameters {
			names = append(names, aws.ToString(p.Name))
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	var deleted []string
	for chunk := range slices.Chunk(names, 10) {
		out, err := client.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: chunk})
		if err != nil {
			return deleted, fmt.Errorf("deleting under %s: %w", path, err)
		}
		deleted = append(deleted, out.DeletedParameters...)
	}
	return deleted, nil
}

// cleanParameters deletes what the stack's hosts left under its path; a failure is an error that says what is
// left and how to delete it, because the stack itself is gone by then.
func (m *Manager) cleanParameters(ctx context.Context, project, name, region, profile string) error {
	store := m.Parameters
	if store == nil {
		store = SSMStore{}
	}
	path := StackPath(project, name)
	if region == "" {
		return fmt.Errorf("stack %s: destroyed, but the region of its AWS provider is unknown, so the readiness "+
			"signals its hosts wrote under %s were not deleted: aws ssm get-parameters-by-path --recursive --path %s",
			name, path, path)
	}
	deleted, err := store.DeletePath(ctx, region, profile, path)
	if err != nil {
		return fmt.Errorf("stack %s: destroyed, but the parameters its hosts wrote under %s (%s) remain: %w; "+
			"delete them with aws ssm delete-parameters", name, path, region, err)
	}
	m.progress(name, "deleted %d parameter(s) its hosts wrote under %s", len(deleted), path)
	return nil
}
