package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Identity is the AWS provider's configuration that decides who a rollout calls Auto Scaling as: the same
// keys pulumi-aws reads (aws:region, aws:profile, aws:accessKey/secretKey/token, aws:assumeRoles), so that a
// rollout runs as exactly the identity that created the group. Unset keys fall back, as the provider's do, to
// the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ... as GitHub's OIDC action sets them) and shared config.
type Identity struct {
	Region, Profile             string
	AccessKey, SecretKey, Token string
	AssumeRoles                 []AssumeRole
}

// AssumeRole is one element of aws:assumeRoles.
type AssumeRole struct {
	RoleArn     string `json:"roleArn"`
	SessionName string `json:"sessionName"`
	ExternalID  string `json:"externalId"`
	// Duration is accepted and left to STS's default: it bounds the session, not what it may do.
	Duration string `json:"duration"`
}

// UnsupportedProviderKeys are provider settings that change the identity in ways a rollout does not copy; a
// stack that sets one is refused, naming the key, rather than rolled out as someone else.
var UnsupportedProviderKeys = []string{"aws:assumeRoleWithWebIdentity", "aws:sharedCredentialsFiles",
	"aws:sharedConfigFiles", "aws:endpoints", "aws:useFipsEndpoint"}

// ReadIdentity reads the provider's configuration with get (the Pulumi config of the stack).
func ReadIdentity(get func(key string) (string, bool)) (Identity, error) {
	id := Identity{}
	id.Region, _ = get("aws:region")
	id.Profile, _ = get("aws:profile")
	id.AccessKey, _ = get("aws:accessKey")
	id.SecretKey, _ = get("aws:secretKey")
	id.Token, _ = get("aws:token")
	if raw, ok := get("aws:assumeRoles"); ok && raw != "" {
		// A session policy, policy ARNs, session tags or a source identity narrow or mark the provider's
		// session; a rollout that did not copy them would call Auto Scaling with other rights, so they are refused.
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&id.AssumeRoles); err != nil {
			return id, fmt.Errorf("aws:assumeRoles: a fleet's rolling deploy copies roleArn, sessionName, "+
				"externalId and duration only: %w", err)
		}
	}
	for _, k := range UnsupportedProviderKeys {
		if v, ok := get(k); ok && v != "" {
			return id, fmt.Errorf("%s: a fleet's rolling deploy calls Auto Scaling as the provider's identity and "+
				"does not copy this setting; unset it, or deploy with the credentials in the environment", k)
		}
	}
	if (id.AccessKey == "") != (id.SecretKey == "") {
		return id, fmt.Errorf("aws:accessKey and aws:secretKey: set both or neither")
	}
	return id, nil
}

// Client builds the Auto Scaling client for the identity. The SDK also honours AWS_ENDPOINT_URL_AUTO_SCALING,
// the SDKs' standard service endpoint variable.
func (id Identity) Client(ctx context.Context) (*autoscaling.Client, error) {
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
		return nil, fmt.Errorf("loading the AWS configuration for the rolling deploy: %w", err)
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
	return autoscaling.NewFromConfig(cfg), nil
}
