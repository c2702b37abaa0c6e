package infra

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
	"appstack/internal/offline"
	"appstack/policy"
	"appstack/testing/offlinetest"
)

func TestRoleMayWriteOnlyItsOwnReadySignal(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			res := mustRun(t, stack, stackFile(t, stack).Config)
			doc := offlinetest.Str(t, res.OfType("aws:iam/rolePolicy:RolePolicy")[0], "policy")
			var d identity.Document
			require.NoError(t, json.Unmarshal([]byte(doc), &d))
			var writes []identity.Statement
			for _, s := range d.Statement {
				if slices.ContainsFunc(s.Action, func(a string) bool {
					return strings.HasPrefix(a, "ssm:Put") || strings.HasPrefix(a, "ssm:Delete")
				}) {
					writes = append(writes, s)
				}
			}
			require.Len(t, writes, 1)
			assert.Equal(t, []string{"ssm:DeleteParameter", "ssm:PutParameter"}, writes[0].Action,
				"the host writes its signal and, once ready, deletes the other deploys' signals")
			assert.Equal(t, []string{fmt.Sprintf("arn:aws:ssm:ap-southeast-1:%s:parameter/appstack/%s/app/ready/*",
				offline.Account, stack)}, writes[0].Resource)
			for _, s := range d.Statement {
				if slices.Contains(s.Action, "ssm:GetParametersByPath") {
					assert.Equal(t, []string{fmt.Sprintf("arn:aws:ssm:ap-southeast-1:%s:parameter/appstack/%s/app/ready",
						offline.Account, stack)}, s.Resource, "it lists only its own stack's ready/ path")
				}
			}
		})
	}
}

// withImage is the staging config with one prebuilt service pinned to digest n.
func withImage(t *testing.T, n int) map[string]string {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:services"] = fmt.Sprintf(`[{"name":"web","port":8080,`+
		`"image":"public.ecr.aws/appstack/web@sha256:%064x"}]`, n)
	return cfg
}

func TestADigestChangeReplacesTheHostButNeverTheAddress(t *testing.T) {
	before, after := mustRun(t, "staging", withImage(t, 1)), mustRun(t, "staging", withImage(t, 2))
	eipBefore, eipAfter := before.OfType(eipType)[0], after.OfType(eipType)[0]
	assert.Equal(t, eipBefore.Inputs, eipAfter.Inputs, "nothing about the Elastic IP changes")
	for _, eip := range []offline.Resource{eipBefore, eipAfter} {
		assert.Empty(t, eip.ReplaceOnChanges)
		assert.False(t, eip.DeleteBeforeReplace)
		_, bound := offline.Lookup(eip.Inputs, "instance")
		assert.False(t, bound, "the association, not the address, names the host")
	}
	hostBefore, hostAfter := before.OfType(instanceType)[0], after.OfType(instanceType)[0]
	assert.NotEqual(t, offlinetest.Str(t, hostBefore, "userData"), offlinetest.Str(t, hostAfter, "userData"))
	assert.True(t, offlinetest.Bool(t, hostAfter, "userDataReplaceOnChange"), "a new boot script means a new host")
	assert.False(t, hostAfter.DeleteBeforeReplace, "created before the old one is deleted")
}

func TestProductionAddressIsProtected(t *testing.T) {
	res := mustRun(t, "production", stackFile(t, "production").Config)
	assert.True(t, res.OfType(eipType)[0].Protect)
}

func TestReadyTimeoutReachesTheGate(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:readyTimeout"] = "15m"
	res := mustRun(t, "staging", cfg)
	assert.Contains(t, offlinetest.Str(t, res.OfType(instanceType)[0], "userData"), "boot_budget=${APPSTACK_BOOT_BUDGET:-780}",
		"the boot's wall-clock budget is the timeout minus the launch allowance")
	cfg["appstack:readyTimeout"] = "soon"
	_, err := run(t, "staging", cfg)
	assert.ErrorContains(t, err, `appstack:readyTimeout: "soon" is not a duration such as 10m or 90s`)
	cfg["appstack:readyTimeout"] = "2h"
	_, err = run(t, "staging", cfg)
	assert.ErrorContains(t, err, "appstack:readyTimeout: 2h0m0s is out of range; want 5m0s to 1h")
	cfg["appstack:readyTimeout"] = "4m"
	_, err = run(t, "staging", cfg)
	assert.ErrorContains(t, err, "appstack:readyTimeout: 4m0s is too short: the boot gets the ready timeout minus "+
		"a 2m0s launch allowance and needs at least 3m0s; want 5m0s to 1h")
}

func TestAlarmEmailGetsAnEncryptedTopic(t *testing.T) {
	cfg := stackFile(t, "production").Config
	cfg["appstack:alarmEmail"] = "oncall@example.com"
	res := mustRun(t, "production", cfg)
	topic := res.OfType("aws:sns/topic:Topic")
	require.Len(t, topic, 1)
	key := res.OfType("aws:kms/key:Key")[0]
	assert.Equal(t, key.Outputs["arn"].StringValue(), offlinetest.Str(t, topic[0], "kmsMasterKeyId"))
	sub := res.OfType("aws:sns/topicSubscription:TopicSubscription")
	require.Len(t, sub, 1)
	assert.Equal(t, "email", offlinetest.Str(t, sub[0], "protocol"))
	assert.Equal(t, "oncall@example.com", offlinetest.Str(t, sub[0], "endpoint"))
	assert.Contains(t, offlinetest.Str(t, key, "policy"), `"Service":["cloudwatch.amazonaws.com"]`,
		"CloudWatch may use the key to publish to the encrypted topic")
	assert.Contains(t, offlinetest.Str(t, key, "policy"), `"AWS":"arn:aws:iam::123456789012:root"`)
	for _, alarm := range res.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		v, _ := offline.Lookup(alarm.Inputs, "alarmActions")
		assert.Contains(t, fmt.Sprint(v.Mappable()), topic[0].Outputs["arn"].StringValue())
	}
	open, _ := policy.Review(offline.PolicyResources(res.Resources), offlinetest.Waivers(t, cfg))
	assert.Empty(t, open)

	cfg["appstack:alarmEmail"] = "not an address"
	_, err := run(t, "production", cfg)
	assert.ErrorContains(t, err, `appstack:alarmEmail: "not an address" is not an email address`)
}

func TestECSOptimisedAMIFromConfig(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:instance"] = `{"ami":"ecs-al2023"}`
	res := mustRun(t, "staging", cfg)
	var names []string
	for _, inv := range res.Invokes {
		if name := inv.Args["name"]; inv.Token == "aws:ssm/getParameter:getParameter" &&
			strings.HasPrefix(name.StringValue(), "/aws/service/") {
			names = append(names, name.StringValue())
		}
	}
	assert.Equal(t, []string{"/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"}, names)
	assert.Equal(t, 30.0, offlinetest.Num(t, res.OfType(instanceType)[0], "rootBlockDevice.volumeSize"),
		"the AMI's 30 GiB snapshot sets the profile's root volume")
	cfg["appstack:instance"] = `{"ami":"ecs-al2023","rootVolumeGiB":20}`
	_, err := run(t, "staging", cfg)
	assert.ErrorContains(t, err, "appstack:instance.rootVolumeGiB: 20: want 30 to 16384 (the ecs-al2023 AMI's "+
		"root snapshot is 30 GiB, and EC2 refuses a smaller volume)")
	assert.NotContains(t, offlinetest.Str(t, res.OfType(instanceType)[0], "userData"), "dnf install -y docker")
}

func TestTheHostWaitsForItsPermissionsAndSecrets(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:secrets"] = `{"JWT_SECRET":"v"}`
	cfg["appstack:services"] = `[{"name":"web","port":8080,"build":{"context":"app"},"secrets":["JWT_SECRET"]}]`
	res := mustRun(t, "staging", cfg, "appstack:secrets")
	inst := res.OfType(instanceType)[0]
	for _, typ := range []string{"aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
		"aws:iam/instanceProfile:InstanceProfile", "aws:ssm/parameter:Parameter"} {
		all := res.OfType(typ)
		require.NotEmpty(t, all, typ)
		for _, r := range all {
			assert.Contains(t, inst.DependsOn, r.URN, "the instance is created only after %s %s", typ, r.Name)
		}
	}
}
