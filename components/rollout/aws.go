package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// NewClient builds the Auto Scaling API for a deploy's identity: awsclient.New with the AWS SDK's credential
// chain, or a stand-in in tests. The program passes it in (fleet.Args.AutoScaling), so the chain is linked only
// where it is used.
type NewClient func(context.Context, Identity) (API, error)

// ErrNoClient is a deploy of a fleet by a program that passed no Auto Scaling client.
var ErrNoClient = errors.New("no Auto Scaling client: fleet.Args.AutoScaling is unset (appstack.Args.Clients " +
	"defaults to awsclient's)")

// Client returns the Auto Scaling API for the identity, through newClient.
func (id Identity) Client(ctx context.Context, newClient NewClient) (API, error) {
	if newClient == nil {
		return nil, ErrNoClient
	}
	return newClient(ctx, id)
}
