package preview_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheExampleStackShowsTheFrontDoorAndItsCost(t *testing.T) {
	r := report(t, "example", nil)
	assert.Empty(t, r.Findings, "the documented example stays at zero open findings")
	assert.Contains(t, r.Serving, "HTTPS through the front door")
	assert.Contains(t, r.Serving, "https://web.example.com/")
	items := map[string]float64{}
	for _, l := range r.Cost.Lines {
		items[l.Item] = l.MonthlyUSD
	}
	assert.InDelta(t, 18.40, items["Application Load Balancer"], 0.01, "730 hours at 0.0252")
	assert.InDelta(t, 5.84, items["ALB capacity units (baseline)"], 0.01)
	assert.InDelta(t, 7.30, items["public IPv4 (load balancer)"], 0.01, "one address per zone, two zones")
	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	for _, want := range []string{"Serving: HTTPS through the front door", "aws:lb/loadBalancer:LoadBalancer",
		"sslPolicy=ELBSecurityPolicy-TLS13-1-2-2021-06", "defaultActions[0].type=redirect",
		"not counted: ACM public certificates (free)"} {
		assert.Contains(t, text.String(), want)
	}
}

func TestAStackWithoutADomainSaysItIsPlainHTTP(t *testing.T) {
	r := report(t, "staging", nil)
	assert.Contains(t, r.Serving, "plain HTTP")
	for _, l := range r.Cost.Lines {
		assert.NotContains(t, l.Item, "Load Balancer")
	}
}
