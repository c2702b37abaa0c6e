package infra

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
	"appstack/infra/appstack"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

// A first up in an account the bootstrap has not run in stops before it creates anything, naming everything
// missing and the command that makes it, instead of failing halfway at the host role.
func TestAnAccountWithoutTheBootstrapIsRefusedBeforeAnythingIsCreated(t *testing.T) {
	const boundary = "arn:aws:iam::" + offline.Account + ":policy/appstack/appstack-host-boundary"
	for _, tc := range []struct {
		name, stack string
		changes     map[string]string
		missing     []string
		want        []string
		dryRun      bool
	}{
		{name: "a fresh account lacks the boundary and the alarms' service-linked role", stack: "staging",
			missing: []string{boundary, appstack.EventsServiceLinkedRoleName},
			want: []string{"account " + offline.Account + " has not been bootstrapped",
				"the permissions boundary policy " + boundary + ", which every host role carries",
				"the service-linked role AWSServiceRoleForCloudWatchEvents",
				"pulumi -C bootstrap up"}},
		{name: "a preview says the same", stack: "production", dryRun: true, missing: []string{boundary},
			want: []string{"lacks the permissions boundary policy " + boundary, "pulumi -C bootstrap up"}},
		{name: "a fleet needs Auto Scaling's service-linked role", stack: "fleet",
			missing: []string{identity.AutoScalingServiceLinkedRoleName},
			want:    []string{"the service-linked role AWSServiceRoleForAutoScaling", "pulumi -C bootstrap up"}},
		{name: "a boundary of the stack's own choosing must exist too", stack: "staging",
			changes: map[string]string{"appstack:permissionsBoundary": "arn:aws:iam::" + offline.Account +
				":policy/platform/boundary"},
			missing: []string{"arn:aws:iam::" + offline.Account + ":policy/platform/boundary"},
			want: []string{"the permissions boundary policy arn:aws:iam::" + offline.Account +
				":policy/platform/boundary (appstack:permissionsBoundary)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(offlinetest.Root())
			cfg := offlinetest.StackConfig(t, tc.stack, tc.changes)
			res, err := offline.Run(Program, offline.Options{Stack: tc.stack, Config: cfg.Config,
				SecretKeys: cfg.SecretKeys, DryRun: tc.dryRun, Missing: tc.missing})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
			assert.Empty(t, res.Resources, "nothing is registered before the check")
		})
	}
}

// In a bootstrapped account the check passes, and it looks up the boundary the host role will carry.
func TestTheBootstrapsBoundaryIsLookedUp(t *testing.T) {
	t.Chdir(offlinetest.Root())
	cfg := stackFile(t, "staging")
	res, err := offline.Run(Program, offline.Options{Stack: "staging", Config: cfg.Config})
	require.NoError(t, err)
	var looked []string
	for _, inv := range res.Invokes {
		switch inv.Token {
		case "aws:iam/getPolicy:getPolicy":
			looked = append(looked, inv.Args["arn"].StringValue())
		case "aws:iam/getRole:getRole":
			looked = append(looked, inv.Args["name"].StringValue())
		}
	}
	assert.ElementsMatch(t, []string{"arn:aws:iam::" + offline.Account + ":policy/appstack/appstack-host-boundary",
		appstack.EventsServiceLinkedRoleName}, looked)
	assert.NotEmpty(t, res.OfType("aws:iam/role:Role"))
}
