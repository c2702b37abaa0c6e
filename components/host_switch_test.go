package components_test

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/host"
	"appstack/components/readiness"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const readyPrefix = "/appstack/test/app/ready"

// runBoots runs one host with the modelled boots ending as given and the parameters set before the run.
func runBoots(t *testing.T, dryRun bool, args *host.Args, params map[string]string, boots ...string) (
	*offline.Result, error) {
	t.Helper()
	return offline.Run(program(host.New, "h", args), offline.Options{Stack: "test", DryRun: dryRun, Boots: boots,
		Parameters: params, Config: map[string]string{"aws:region": offlinetest.Region}})
}

// reads returns the names the program read with an invoke of tok.
func reads(res *offline.Result, tok string) []string {
	var names []string
	for _, inv := range res.Invokes {
		if inv.Token == tok {
			key := "name"
			if tok == getByPath {
				key = "path"
			}
			names = append(names, inv.Args[resource.PropertyKey(key)].StringValue())
		}
	}
	return names
}

const (
	getParameter = "aws:ssm/getParameter:getParameter"
	getByPath    = "aws:ssm/getParametersByPath:getParametersByPath"
	alarmType    = "aws:cloudwatch/metricAlarm:MetricAlarm"
)

func TestAddressMovesOnlyToAReadyHost(t *testing.T) {
	res, err := runBoots(t, false, hostArgs(), nil)
	require.NoError(t, err)
	inst := offlinetest.One(t, res, instanceType)
	param := readyPrefix + "/" + inst.ID
	assert.Contains(t, reads(res, getParameter), param,
		"the gate reads the host's signal with an invoke through the provider")
	s, err := readiness.Parse(res.Parameters[param])
	require.NoError(t, err)
	assert.Equal(t, readiness.Ready, s.State)
	assert.Contains(t, offlinetest.Str(t, inst, "userData"), "fingerprint="+s.Fingerprint,
		"the program waits for the fingerprint the boot script will signal")
	assoc := offlinetest.One(t, res, assocType)
	assert.Equal(t, inst.ID, offlinetest.Str(t, assoc, "instanceId"))
	assert.True(t, offlinetest.Bool(t, assoc, "allowReassociation"), "the address moves from the old host")
	assert.False(t, inst.DeleteBeforeReplace, "the new host is created before the old one is deleted")
}

func TestPreviewNeverWaits(t *testing.T) {
	res, err := runBoots(t, true, hostArgs(), nil)
	require.NoError(t, err)
	assert.Empty(t, reads(res, getParameter)[1:], "only the AMI is looked up")
	assert.Equal(t, []string{readyPrefix}, reads(res, getByPath), "a preview numbers the boot attempt too")
	offlinetest.One(t, res, assocType)
}

func TestAFailedGateLeavesTheAddressAndTheAlarmsWhereTheyAre(t *testing.T) {
	res, err := runBoots(t, false, hostArgs(), nil, "failed health timeout: web did not answer")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `host "h": host i-0`)
	assert.Contains(t, err.Error(), `the new host failed its boot at step "health": timeout: web did not answer`)
	assert.Empty(t, res.OfType(assocType), "the association is never pointed at the unready host")
	assert.Len(t, res.OfType(eipType), 1, "the address itself is untouched")
	assert.Empty(t, res.OfType(alarmType), "the alarms are never pointed at the unready host")
}

func TestAReRunAfterAFailedBootBootsAFreshHost(t *testing.T) {
	failed, err := runBoots(t, false, hostArgs(), nil, "failed pull docker pull web failed")
	require.Error(t, err)
	first := offlinetest.One(t, failed, instanceType)
	assert.Contains(t, offlinetest.Str(t, first, "userData"), "\nattempt=0\n")

	again, err := runBoots(t, false, hostArgs(), failed.Parameters)
	require.NoError(t, err, "the same deploy again")
	second := offlinetest.One(t, again, instanceType)
	assert.NotEqual(t, first.ID, second.ID, "a fresh host")
	assert.Contains(t, offlinetest.Str(t, second, "userData"), "\nattempt=1\n",
		"a new user-data, which userDataReplaceOnChange turns into a new host")

	preview, err := runBoots(t, true, hostArgs(), failed.Parameters)
	require.NoError(t, err)
	assert.Contains(t, offlinetest.Str(t, offlinetest.One(t, preview, instanceType), "userData"), "\nattempt=1\n",
		"a preview shows the same fresh host")

	same, err := runBoots(t, false, hostArgs(), again.Parameters)
	require.NoError(t, err, "a deploy with no change after the success")
	assert.Equal(t, offlinetest.Str(t, second, "userData"), offlinetest.Str(t, offlinetest.One(t, same, instanceType),
		"userData"), "keeps the healthy host")
}

func TestTheGateFailsFastWhenTheDeployMayNotReadTheSignal(t *testing.T) {
	// The instance id is derived from the user data, so a first run tells which parameter to deny.
	res, err := runBoots(t, false, hostArgs(), nil)
	require.NoError(t, err)
	param := readyPrefix + "/" + offlinetest.One(t, res, instanceType).ID
	start := time.Now()
	_, err = offline.Run(program(host.New, "h", hostArgs()), offline.Options{Stack: "test", Denied: []string{param},
		Config: map[string]string{"aws:region": offlinetest.Region}})
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Minute, "no waiting out readyTimeout")
	assert.Contains(t, err.Error(), "no retry will change that")
	assert.Contains(t, err.Error(), "AccessDeniedException")
	assert.Contains(t, err.Error(), "The Elastic IP stays on the previous host")
}

func TestTheSignalsPathMustBeReadable(t *testing.T) {
	run := func(dryRun bool) error {
		_, err := offline.Run(program(host.New, "h", hostArgs()), offline.Options{Stack: "test", DryRun: dryRun,
			Denied: []string{readyPrefix}, Config: map[string]string{"aws:region": offlinetest.Region}})
		return err
	}
	assert.NoError(t, run(true), "a preview with a narrower role warns and goes on")
	err := run(false)
	require.Error(t, err, "a deploy never guesses the boot attempt")
	assert.Contains(t, err.Error(), "ssm:GetParametersByPath on that path")
}

func TestStatusCheckAlarmsRecoverAndRebootTheServingHost(t *testing.T) {
	args := hostArgs()
	args.AlarmTopicArn = pulumi.String("arn:aws:sns:ap-southeast-1:123456789012:alarms")
	args.InstanceActions = true
	res := offlinetest.Run(t, program(host.New, "h", args))
	alarms := res.OfType(alarmType)
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
