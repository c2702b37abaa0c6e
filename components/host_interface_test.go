package components_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/host"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

// The deploy roles may move an address only onto a network interface of their own stack, so the host's interface
// must carry the stack's tags from the launch itself.
func TestTheHostsNetworkInterfaceIsTaggedAtLaunch(t *testing.T) {
	a := hostArgs()
	a.Tags = map[string]string{"stack": "pr-7", "managed-by": "appstack"}
	res := offlinetest.Run(t, program(host.New, "h", a))
	inst := offlinetest.One(t, res, instanceType)
	tmpl := offlinetest.One(t, res, "aws:ec2/launchTemplate:LaunchTemplate")
	assert.Equal(t, tmpl.ID, offlinetest.Str(t, inst, "launchTemplate.id"), "the instance launches from the template")
	assert.Equal(t, "1", offlinetest.Str(t, inst, "launchTemplate.version"), "a numbered version")
	specs, ok := offline.Lookup(tmpl.Inputs, "tagSpecifications")
	require.True(t, ok)
	var tagged bool
	for _, s := range specs.ArrayValue() {
		m := s.ObjectValue()
		if m["resourceType"].StringValue() == "network-interface" {
			tagged = m["tags"].ObjectValue()["stack"].StringValue() == "pr-7"
		}
	}
	assert.True(t, tagged, "the network interface carries the stack tag from RunInstances")
	assert.Equal(t, "pr-7", offlinetest.Str(t, tmpl, "tags.stack"), "the template is the stack's own")
	// The policy's launch template rules leave the host's template to the instance's own rules
	// (policy.HostComponent): it must set nothing but tags, which the instance's arguments would not override.
	for key := range tmpl.Inputs {
		assert.Contains(t, []string{"description", "tagSpecifications", "tags", "name"}, string(key),
			"the host's launch template sets only tags")
	}
}

// Without InstanceActions the status-check alarms only notify: a review stack's role may not create alarms that
// recover or reboot an instance.
func TestStatusCheckAlarmsActOnTheHostOnlyWhenAskedTo(t *testing.T) {
	args := hostArgs()
	args.AlarmTopicArn = pulumi.String("arn:aws:sns:ap-southeast-1:123456789012:appstack-pr-7-app-alarms-1")
	res := offlinetest.Run(t, program(host.New, "h", args))
	alarms := res.OfType(alarmType)
	require.Len(t, alarms, 2)
	for _, a := range alarms {
		assert.Equal(t, []any{"arn:aws:sns:ap-southeast-1:123456789012:appstack-pr-7-app-alarms-1"},
			offlinetest.Prop(t, a, "alarmActions").Mappable(), "notify only")
	}
}
