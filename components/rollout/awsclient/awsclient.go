// Package awsclient builds the AWS clients the program calls itself (a fleet's Auto Scaling rollout, a single host's
// target health), with the AWS SDK's credential chain.
// appstack.DefaultClients passes them to the components; the components take them in their Args.
package awsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"appstack/components/rollout"
	"appstack/components/targethealth"
)

// New builds the Auto Scaling client for a rollout's identity: the provider's region, profile, static keys and
// assumed roles, over the SDK's default credential chain. The SDK also honours AWS_ENDPOINT_URL_AUTO_SCALING, the
// SDKs' standard service endpoint variable.
func New(ctx context.Context, id rollout.Identity) (rollout.API, error) {
	cfg, err := load(ctx, id)
	if err != nil {
		return nil, err
	}
	return autoscaling.NewFromConfig(cfg), nil
}

// NewTargetHealth builds the Elastic Load Balancing client a single host's deploy reads its new target's health
// with, for the same identity as New; the SDK honours AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2.
func NewTargetHealth(ctx context.Context, id rollout.Identity) (targethealth.API, error) {
	cfg, err := load(ctx, id)
	if err != nil {
		return nil, err
	}
	return elasticloadbalancingv2.NewFromConfig(cfg), nil
}

// NewSignalStore builds the SSM client a fleet's deploy reads and prunes its hosts' readiness signals with, for the
// same identity as New; the SDK honours AWS_ENDPOINT_URL_SSM.
func NewSignalStore(ctx context.Context, id rollout.Identity) (rollout.SignalStore, error) {
	cfg, err := load(ctx, id)
	if err != nil {
		return nil, err
	}
	return ssm.NewFromConfig(cfg), nil
}

// load is the SDK configuration of an identity.
func load(ctx context.Context, id rollout.Identity) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(id.Region)}
	if id.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(id.Profile))
	}
	if id.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id.AccessKey, id.SecretKey, id.Token)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS configuration for the deploy's own calls: %w", err)
	}
	// The provider assumes each role in turn, each with the credentials of the one before.
	for _, role := range id.AssumeRoles {
		if role.RoleArn == "" {
			continue
		}
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg),
			role.RoleArn, func(o *stscreds.AssumeRoleOptions) {
				if role.SessionName != "" {
					o.RoleSessionName = role.SessionName
				}
				if role.ExternalID != "" {
					o.ExternalID = aws.String(role.ExternalID)
				}
			}))
	}
	return cfg, nil
}
