package preview_test

import (
	"bytes"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/internal/preview"
	"appstack/policy"
	"appstack/stacks"
)

// fleetConfig is a staging stack on a fleet of 2-6 t3.small hosts, half of those above one On-Demand host on
// Spot, in the front door's public subnets.
func fleetConfig() *stacks.Config {
	cfg := stacks.Defaults(stacks.Staging)
	cfg.Region = preview.PriceRegion
	cfg.Domain = "example.com"
	cfg.Hosting = stacks.FleetHosting
	cfg.Fleet = &stacks.Fleet{Min: 2, Max: 6, InstanceTypes: []string{"t3.small", "t3a.small"},
		OnDemandBase: new(1), SpotPercent: 50}
	return &cfg
}

func lineItems(e preview.Estimate) map[string]preview.CostLine {
	m := map[string]preview.CostLine{}
	for _, l := range e.Lines {
		m[l.Item] = l
	}
	return m
}

func TestTheEstimatePricesAFleetBetweenItsMinimumAndMaximum(t *testing.T) {
	res := &offline.Result{Resources: []offline.Resource{
		{Type: policy.LoadBalancer, Name: "app-frontdoor-alb"},
		// An instance the program still declared must not be counted on top of the group's hosts.
		{Type: policy.Instance, Name: "stray", Inputs: resource.NewPropertyMapFromMap(map[string]any{
			"instanceType": "t3.large", "rootBlockDevice": map[string]any{"volumeSize": 100}})},
	}}
	e := preview.EstimateCost(fleetConfig(), res)
	lines := lineItems(e)
	require.NotNil(t, e.Fleet, "a fleet stack reports its range")
	f := *e.Fleet

	t.Run("at the minimum: base On-Demand, the rest split with On-Demand rounded up", func(t *testing.T) {
		// 2 hosts: 1 base + 1 above, of which 50 percent On-Demand rounds up to 1: both On-Demand.
		assert.Equal(t, [2]int{2, 0}, [2]int{f.OnDemandAtMin, f.SpotAtMin})
		// 6 hosts: 1 base + 5 above; 2.5 On-Demand rounds up to 3: 4 On-Demand, 2 Spot.
		assert.Equal(t, [2]int{4, 2}, [2]int{f.OnDemandAtMax, f.SpotAtMax})
		ec2 := lines["EC2 t3.small (fleet, On-Demand)"]
		assert.InDelta(t, 2*preview.HoursPerMonth, ec2.Quantity, 0.001)
		assert.InDelta(t, 0.0264, ec2.UnitUSD, 1e-9)
		assert.InDelta(t, 38.54, ec2.MonthlyUSD, 0.01, "2 x 730 h x 0.0264")
		assert.InDelta(t, 40, lines["EBS gp3 root volume"].Quantity, 0.001, "2 hosts x 20 GiB")
		assert.InDelta(t, 2*preview.HoursPerMonth, lines["public IPv4 (fleet hosts)"].Quantity, 0.001)
		assert.NotContains(t, lines, "EC2 t3.large", "the group's hosts replace the single host")
		assert.Contains(t, lines, "Application Load Balancer")
	})
	t.Run("at the maximum: each On-Demand host adds its hours, volume and address; Spot hours are variable", func(t *testing.T) {
		host := 730*0.0264 + 20*0.096 + 730*0.005
		assert.InDelta(t, host, f.OnDemandHostUSD, 0.01)
		assert.InDelta(t, 20*0.096+730*0.005, f.SpotHostUSD, 0.01)
		assert.InDelta(t, e.TotalUSD, f.MinMonthlyUSD, 0.001)
		assert.InDelta(t, e.TotalUSD+2*f.OnDemandHostUSD+2*f.SpotHostUSD, f.MaxMonthlyUSD, 0.01)
		assert.Contains(t, e.NotCounted, "Spot instance hours (0 Spot host(s) at the minimum size, 2 at the "+
			"maximum): the current Spot price, which varies")
		assert.Contains(t, e.NotCounted, "the other instance types (t3a.small): priced as t3.small, which the "+
			"group launches first; another type costs its own price")
	})
	t.Run("the text shows the range", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, (&preview.Report{Cost: e}).WriteText(&b))
		assert.Contains(t, b.String(), "fleet of 2-6 t3.small hosts (2 at creation)")
		assert.Contains(t, b.String(), "at 6 hosts (4 On-Demand, 2 Spot)")
	})
}

func TestTheFleetEstimateFollowsItsConfiguration(t *testing.T) {
	t.Run("all On-Demand by default: max hosts all priced", func(t *testing.T) {
		cfg := fleetConfig()
		cfg.Fleet = &stacks.Fleet{Min: 3, Max: 5}
		f := preview.EstimateCost(cfg, &offline.Result{}).Fleet
		require.NotNil(t, f)
		assert.Equal(t, []int{3, 0, 5, 0}, []int{f.OnDemandAtMin, f.SpotAtMin, f.OnDemandAtMax, f.SpotAtMax})
		assert.Equal(t, "t3.small", f.InstanceType, "default: appstack:instance.type")
	})
	t.Run("private subnets: no public addresses, the NAT named as not counted", func(t *testing.T) {
		cfg := fleetConfig()
		cfg.Fleet.SubnetIDs = []string{"subnet-a", "subnet-b"}
		e := preview.EstimateCost(cfg, &offline.Result{})
		assert.NotContains(t, lineItems(e), "public IPv4 (fleet hosts)")
		assert.Contains(t, e.NotCounted, "the NAT gateway or VPC endpoints that serve the private subnets "+
			"(appstack:fleet.subnetIds; not part of the stack)")
	})
	t.Run("an instance type outside the table is named, not guessed", func(t *testing.T) {
		cfg := fleetConfig()
		cfg.Fleet.InstanceTypes = []string{"c7i.large"}
		e := preview.EstimateCost(cfg, &offline.Result{})
		assert.Contains(t, e.NotCounted, "instance type c7i.large (not in the table)")
		for item := range lineItems(e) {
			assert.NotContains(t, item, "EC2 c7i")
		}
	})
	t.Run("a single host has no fleet range", func(t *testing.T) {
		cfg := stacks.Defaults(stacks.Staging)
		cfg.Region = preview.PriceRegion
		assert.Nil(t, preview.EstimateCost(&cfg, &offline.Result{}).Fleet)
	})
}

func TestAFleetStackPreviewShowsTheFleetCost(t *testing.T) {
	// A fleet declares no EC2 instance, so the single host's waiver of APPSTACK-EC2-010 would match nothing.
	r := report(t, "example", map[string]string{"appstack:hosting": "fleet",
		"appstack:fleet":   `{"min":2,"max":4}`,
		"appstack:waivers": `[{"rule":"APPSTACK-NET-007","reason":"a public web site over HTTPS"}]`})
	require.NotNil(t, r.Cost.Fleet)
	ec2 := lineItems(r.Cost)["EC2 t3.medium (fleet, On-Demand)"]
	assert.InDelta(t, 77.09, ec2.MonthlyUSD, 0.01, "production's t3.medium, 2 hosts x 730 h x 0.0528")
	assert.Greater(t, r.Cost.Fleet.MaxMonthlyUSD, r.Cost.Fleet.MinMonthlyUSD)
	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "fleet of 2-4 t3.medium hosts (2 at creation)")
}

func TestTheDocumentedFleetStackPricesItsRange(t *testing.T) {
	r := report(t, "fleet", nil)
	f := r.Cost.Fleet
	require.NotNil(t, f)
	// examples/fleet/Pulumi.fleet.yaml: 2-6 t3.medium, 2 always On-Demand, half of the rest on Spot (rounded toward
	// On-Demand).
	assert.Equal(t, []int{2, 0, 4, 2}, []int{f.OnDemandAtMin, f.SpotAtMin, f.OnDemandAtMax, f.SpotAtMax})
	assert.Equal(t, "t3.medium", f.InstanceType)
	assert.InDelta(t, 77.09, lineItems(r.Cost)["EC2 t3.medium (fleet, On-Demand)"].MonthlyUSD, 0.01)
	assert.NotContains(t, lineItems(r.Cost), "public IPv4 (Elastic IP)", "a fleet has no Elastic IP")
	assert.Contains(t, r.Cost.NotCounted, "the other instance types (t3a.medium): priced as t3.medium, which the "+
		"group launches first; another type costs its own price")
}
