package infra

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
)

// A review stack's role may not create alarms that recover or reboot an instance, and each role's alarms and SNS
// calls name its own stacks' topics only (bootstrap: AlarmsCreateTagged, TopicPattern): the program must ask for
// no more.
func TestAlarmsActAndNotifyWithinTheirOwnStack(t *testing.T) {
	for _, tc := range []struct {
		stack       string
		cfg         func(t *testing.T) map[string]string
		ec2Actions  bool
		topicPrefix string
	}{
		{"pr-7", ephemeral, false, "appstack-pr-7-"},
		{"staging", func(t *testing.T) map[string]string { return stackFile(t, "staging").Config }, true, "appstack-staging-"},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			cfg := tc.cfg(t)
			cfg["appstack:alarmEmail"] = "oncall@example.com"
			res := mustRun(t, tc.stack, cfg)
			topics := res.OfType("aws:sns/topic:Topic")
			require.Len(t, topics, 1)
			topicArn := topics[0].Outputs["arn"].StringValue()
			assert.True(t, strings.HasPrefix(topics[0].Outputs["name"].StringValue(), tc.topicPrefix),
				"topic %s is named by its stack", topics[0].Outputs["name"].StringValue())
			alarms := res.OfType("aws:cloudwatch/metricAlarm:MetricAlarm")
			require.NotEmpty(t, alarms)
			sawEC2 := false
			for _, alarm := range alarms {
				v, _ := offline.Lookup(alarm.Inputs, "alarmActions")
				for _, action := range v.ArrayValue() {
					a := action.StringValue()
					if strings.Contains(a, ":automate:") {
						sawEC2 = true
						continue
					}
					assert.Equal(t, topicArn, a, "%s notifies only its own stack's topic", alarm.Name)
				}
			}
			assert.Equal(t, tc.ec2Actions, sawEC2, fmt.Sprintf("EC2 alarm actions in %s", tc.stack))
		})
	}
}
