package components_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/host"
	"appstack/internal/offline"
	"appstack/internal/offline/offlinetest"
	"appstack/internal/readiness"
)

type failingWaiter struct{ calls int }

func (f *failingWaiter) Wait(_ context.Context, req readiness.WaitRequest) error {
	f.calls++
	return errors.New("the new host failed its boot at step \"health\": web did not answer")
}

func runWith(t *testing.T, w readiness.Waiter, dryRun bool, args *host.Args) (*offline.Result, error) {
	t.Helper()
	return offline.Run(program(host.New, "h", args), offline.Options{Stack: "test", DryRun: dryRun, Waiter: w,
		Config: map[string]string{"aws:region": offlinetest.Region}})
}

func TestAddressMovesOnlyToAReadyHost(t *testing.T) {
	w := &offline.ReadyWaiter{}
	res, err := runWith(t, w, false, hostArgs())
	require.NoError(t, err)
	inst := offlinetest.One(t, res, instanceType)
	require.Len(t, w.Waits, 1)
	req := w.Waits[0]
	assert.Equal(t, inst.ID, req.InstanceID)
	assert.Equal(t, "/appstack/test/app/ready/"+inst.ID, req.Parameter)
	assert.Contains(t, offlinetest.Str(t, inst, "userData"), "fingerprint="+req.Fingerprint,
		"the program waits for the fingerprint the boot script will signal")
	assert.Equal(t, "app-logs", req.LogGroup)
	assoc := offlinetest.One(t, res, assocType)
	assert.Equal(t, req.InstanceID, offlinetest.Str(t, assoc, "instanceId"))
	assert.True(t, offlinetest.Bool(t, assoc, "allowReassociation"), "the address moves from the old host")
	assert.False(t, inst.DeleteBeforeReplace, "the new host is created before the old one is deleted")
}

func TestPreviewNeverWaits(t *testing.T) {
	w := &offline.ReadyWaiter{}
	res, err := runWith(t, w, true, hostArgs())
	require.NoError(t, err)
	assert.Empty(t, w.Waits)
	offlinetest.One(t, res, assocType)
}

func TestAFailedGateLeavesTheAddressWhereItIs(t *testing.T) {
	w := &failingWaiter{}
	res, err := runWith(t, w, false, hostArgs())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `host "h": the new host failed its boot at step "health"`)
	assert.Equal(t, 1, w.calls)
	assert.Empty(t, res.OfType(assocType), "the association is never pointed at the unready host")
	assert.Len(t, res.OfType(eipType), 1, "the address itself is untouched")
}

func TestStatusCheckAlarmsRecoverAndReboot(t *testing.T) {
	args := hostArgs()
	args.AlarmTopicArn = pulumi.String("arn:aws:sns:ap-southeast-1:123456789012:alarms")
	res := offlinetest.Run(t, program(host.New, "h", args))
	alarms := res.OfType("aws:cloudwatch/metricAlarm:MetricAlarm")
	require.Len(t, alarms, 2)
	inst := offlinetest.One(t, res, instanceType)
	want := map[string]string{
		"StatusCheckFailed_System":   "arn:aws:automate:ap-southeast-1:ec2:recover",
		"StatusCheckFailed_Instance": "arn:aws:automate:ap-southeast-1:ec2:reboot",
	}
	for _, a := range alarms {
		metric := offlinetest.Str(t, a, "metricName")
		assert.Equal(t, "AWS/EC2", offlinetest.Str(t, a, "namespace"))
		assert.Equal(t, inst.ID, offlinetest.Str(t, a, "dimensions.InstanceId"))
		assert.Equal(t, []any{want[metric], "arn:aws:sns:ap-southeast-1:123456789012:alarms"},
			offlinetest.Prop(t, a, "alarmActions").Mappable())
	}
}
