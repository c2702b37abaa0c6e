package stacks

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFleetConfigIsRejectedNamingTheKey(t *testing.T) {
	fleet := func(extra map[string]string) map[string]string {
		out := map[string]string{"appstack:hosting": "fleet", "appstack:domain": "example.com"}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		changes map[string]string
		want    string
	}{
		{"a hosting that does not exist", map[string]string{"appstack:hosting": "cluster"},
			`appstack:hosting: "cluster": want single (one host, the default) or fleet`},
		{"a fleet without the front door", map[string]string{"appstack:hosting": "fleet"},
			"appstack:hosting: fleet needs appstack:domain"},
		{"a fleet shape on a single host", map[string]string{"appstack:fleet": `{"min":2}`},
			"appstack:fleet: set but appstack:hosting is single"},
		{"a misspelled fleet key", fleet(map[string]string{"appstack:fleet": `{"instanceType":["t3.small"]}`}),
			`appstack:fleet.instanceType: unknown key (did you mean "instanceTypes"?)`},
		{"no hosts", fleet(map[string]string{"appstack:fleet": `{"min":-1}`}),
			"appstack:fleet.min: -1: want 1 to 100 hosts"},
		{"one production host", fleet(map[string]string{"appstack:environment": "production",
			"appstack:fleet": `{"min":1}`}), "appstack:fleet.min: 1: production keeps at least 2 hosts"},
		{"max below min", fleet(map[string]string{"appstack:fleet": `{"min":3,"max":2}`}),
			"appstack:fleet.max: 2: want min (3) to 100"},
		{"desired above max", fleet(map[string]string{"appstack:fleet": `{"min":2,"max":3,"desired":4}`}),
			"appstack:fleet.desired: 4: want min (2) to max (3)"},
		{"an instance type of another architecture",
			fleet(map[string]string{"appstack:fleet": `{"instanceTypes":["t3.small","t4g.small"]}`}),
			`appstack:fleet.instanceTypes[1]: "t4g.small" is arm64 but appstack:instance.arch is x86_64`},
		{"a misspelled instance type", fleet(map[string]string{"appstack:fleet": `{"instanceTypes":["t3-small"]}`}),
			`appstack:fleet.instanceTypes[0]: "t3-small" is not an EC2 instance type`},
		{"a paravirtual-only type among the fleet's", fleet(map[string]string{"appstack:fleet": `{"instanceTypes":["t3.small","c1.medium"]}`}),
			`appstack:fleet.instanceTypes[1]: "c1.medium" boots only paravirtual AMIs`},
		{"more Spot than all", fleet(map[string]string{"appstack:fleet": `{"spotPercent":120}`}),
			"appstack:fleet.spotPercent: 120: want 0 to 100"},
		{"an On-Demand base above max", fleet(map[string]string{"appstack:fleet": `{"max":4,"onDemandBase":5}`}),
			"appstack:fleet.onDemandBase: 5: want 0 to max (4)"},
		{"a deploy that keeps more than all", fleet(map[string]string{"appstack:fleet": `{"minHealthyPercent":150}`}),
			"appstack:fleet.minHealthyPercent: 150: want 0 to 100"},
		{"a drain past the load balancer's hour", fleet(map[string]string{"appstack:fleet": `{"drainSeconds":7200}`}),
			"appstack:fleet.drainSeconds: 7200: want 0 to 3600 seconds"},
		{"an unknown scaling metric", fleet(map[string]string{"appstack:fleet": `{"scaling":{"metric":"memory"}}`}),
			`appstack:fleet.scaling.metric: "memory": want cpu or requests`},
		{"a CPU target above 100", fleet(map[string]string{"appstack:fleet": `{"scaling":{"target":150}}`}),
			"appstack:fleet.scaling.target: 150: want a CPU percentage"},
		{"private subnets in the default VPC",
			fleet(map[string]string{"appstack:fleet": `{"subnetIds":["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]}`}),
			"appstack:fleet.subnetIds: only with vpcId"},
		{"one private subnet", fleet(map[string]string{"appstack:vpcId": "vpc-0123456789abcdef0",
			"appstack:subnetId":           "subnet-0123456789abcdef0",
			"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`,
			"appstack:fleet":              `{"subnetIds":["subnet-0123456789abcdef2"]}`}),
			"appstack:fleet.subnetIds: one subnet: a fleet spreads over at least two Availability Zones"},
		{"an Elastic IP to adopt", fleet(map[string]string{"appstack:adoptAddress": "eipalloc-0123456789abcdef0"}),
			"appstack:adoptAddress: a fleet has no Elastic IP"},
		{"a ready timeout whose rollout and rollback outlive the deploy's AWS session",
			fleet(map[string]string{"appstack:readyTimeout": "20m"}),
			"appstack:readyTimeout: 20m0s with appstack:fleet.drainSeconds 300: a fleet deploy's refresh may run " +
				"2 x readyTimeout + 1m0s warmup + drainSeconds = 46m0s before it is rolled back, and its rollback as " +
				"long again, 1h32m0s in all"},
		{"a drain whose rollout and rollback outlive the deploy's AWS session",
			fleet(map[string]string{"appstack:fleet": `{"drainSeconds":1800}`}),
			"appstack:readyTimeout: 10m0s with appstack:fleet.drainSeconds 1800"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(source(t, with(tc.changes)))
			var cfgErr *Error
			require.True(t, errors.As(err, &cfgErr), "want a configuration error, got %v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestFleetDefaults(t *testing.T) {
	single, err := Load(source(t, valid()))
	require.NoError(t, err)
	assert.Equal(t, Single, single.Hosting, "one host stays the default")
	assert.False(t, single.IsFleet())
	assert.Nil(t, single.Fleet)

	cfg, err := Load(source(t, with(map[string]string{"appstack:hosting": "fleet",
		"appstack:domain": "example.com"})))
	require.NoError(t, err)
	require.True(t, cfg.IsFleet())
	require.NotNil(t, cfg.Fleet)
	assert.Equal(t, Fleet{Min: 2, Max: 4, Desired: 2, InstanceTypes: []string{cfg.Instance.Type},
		OnDemandBase: new(2), MinHealthyPercent: new(100), DrainSeconds: new(300), Scaling: Scaling{Metric: CPUMetric, Target: 60}}, *cfg.Fleet,
		"two hosts in two zones, all On-Demand, nothing taken out of service during a deploy")

	requests, err := Load(source(t, with(map[string]string{"appstack:hosting": "fleet",
		"appstack:domain": "example.com",
		"appstack:fleet":  `{"min":1,"max":3,"onDemandBase":0,"spotPercent":50,"scaling":{"metric":"requests"}}`})))
	require.NoError(t, err)
	assert.Equal(t, 1000.0, requests.Fleet.Scaling.Target)
	assert.Equal(t, 0, *requests.Fleet.OnDemandBase, "an explicit zero On-Demand base is kept")
	assert.Equal(t, 1, requests.Fleet.Desired)

	all, err := Load(source(t, with(map[string]string{"appstack:hosting": "fleet",
		"appstack:domain": "example.com", "appstack:fleet": `{"minHealthyPercent":0}`})))
	require.NoError(t, err)
	assert.Equal(t, 0, *all.Fleet.MinHealthyPercent, "an explicit 0 (replace every host at once) is kept")

	assert.LessOrEqual(t, FleetDeployWorstCase(cfg.ReadyTimeout, 300*time.Second)+DeployAllowance, DeploySession,
		"the default fleet's rollout and rollback fit in a deploy job's AWS session")

	built := &Config{Hosting: FleetHosting, Instance: Instance{Type: "t3.small"}}
	assert.Equal(t, 2, built.FleetShape().Min, "a configuration built in code gets the same defaults")
}
