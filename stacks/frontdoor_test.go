package stacks

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrontDoorConfigIsRejectedNamingTheKey(t *testing.T) {
	two := `[{"name":"web","port":8080,"image":"` + pinned + `"},{"name":"api","port":8081,"image":"` + pinned +
		`","hostname":"%s"}]`
	for _, tc := range []struct {
		name    string
		changes map[string]string
		want    string
	}{
		{"a hostname for a stack without a domain",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"image":"` + pinned +
				`","hostname":"web.example.com"}]`},
			`appstack:services[0].hostname: "web.example.com" is set but appstack:domain is not`},
		{"a hostname outside the zone",
			map[string]string{"appstack:domain": "example.com",
				"appstack:services": fmt.Sprintf(two, "api.example.org")},
			`appstack:services[1].hostname: "api.example.org" is outside the hosted zone example.com`},
		{"a look-alike suffix is outside the zone too",
			map[string]string{"appstack:domain": "example.com",
				"appstack:services": fmt.Sprintf(two, "api.badexample.com")},
			`appstack:services[1].hostname: "api.badexample.com" is outside the hosted zone`},
		{"two services on one hostname",
			map[string]string{"appstack:domain": "example.com",
				"appstack:services": fmt.Sprintf(two, "web.example.com")},
			`appstack:services[1].hostname: "web.example.com" is already the hostname of services[0]`},
		{"a hostname that is not a DNS name",
			map[string]string{"appstack:domain": "example.com",
				"appstack:services": fmt.Sprintf(two, "API_1.example.com")},
			`appstack:services[1].hostname: "API_1.example.com" is not a DNS name`},
		{"a domain that is not a DNS name",
			map[string]string{"appstack:domain": "https://example.com/"},
			`appstack:domain: "https://example.com/" is not a DNS name`},
		{"an idle timeout above the load balancer's 4000 seconds",
			map[string]string{"appstack:domain": "example.com", "appstack:idleTimeout": "2h"},
			"appstack:idleTimeout: 2h0m0s: want whole seconds from 1s to 1h6m40s"},
		{"front door subnets without a domain",
			map[string]string{"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`},
			"appstack:frontDoorSubnetIds: set but appstack:domain is not"},
		{"a domain in a chosen VPC without the front door's subnets",
			map[string]string{"appstack:domain": "example.com", "appstack:vpcId": "vpc-0123456789abcdef0",
				"appstack:subnetId": "subnet-0123456789abcdef0"},
			"appstack:frontDoorSubnetIds: the front door needs at least 2 public subnets of vpc-0123456789abcdef0"},
		{"one subnet is not two zones",
			map[string]string{"appstack:domain": "example.com", "appstack:vpcId": "vpc-0123456789abcdef0",
				"appstack:subnetId":           "subnet-0123456789abcdef0",
				"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0"]`},
			"appstack:frontDoorSubnetIds: the front door needs at least 2"},
		{"front door subnets in the default VPC",
			map[string]string{"appstack:domain": "example.com",
				"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`},
			"appstack:frontDoorSubnetIds: only with vpcId"},
		{"a front door subnet that is not a subnet id",
			map[string]string{"appstack:domain": "example.com", "appstack:vpcId": "vpc-0123456789abcdef0",
				"appstack:subnetId":           "subnet-0123456789abcdef0",
				"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","sg-0123456789abcdef1"]`},
			`appstack:frontDoorSubnetIds[1]: "sg-0123456789abcdef1" is not a subnet id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(source(t, with(tc.changes)))
			var cfgErr *Error
			require.True(t, errors.As(err, &cfgErr), "want a configuration error, got %v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestFrontDoorDefaultsAndHostnames(t *testing.T) {
	cfg, err := Load(source(t, with(map[string]string{"appstack:domain": "example.com",
		"appstack:services": `[{"name":"web","port":8080,"image":"` + pinned + `"},` +
			`{"name":"api","port":8081,"image":"` + pinned + `","hostname":"trade.example.com"},` +
			`{"name":"root","port":8082,"image":"` + pinned + `","hostname":"example.com"}]`})))
	require.NoError(t, err)
	assert.True(t, cfg.HasFrontDoor())
	assert.Equal(t, DefaultIdleTimeout, cfg.IdleTimeout, "the default outlasts a quiet WebSocket's minutes")
	assert.Equal(t, map[string]string{"web": "web.example.com", "api": "trade.example.com", "root": "example.com"},
		cfg.Hostnames("staging"))

	cfg.Environment = Ephemeral
	assert.Equal(t, map[string]string{"web": "web.pr-7.example.com", "api": "trade.pr-7.example.com",
		"root": "pr-7.example.com"}, cfg.Hostnames("pr-7"),
		"an ephemeral stack never takes the names of the stack it was copied from")

	plain, err := Load(source(t, valid()))
	require.NoError(t, err)
	assert.False(t, plain.HasFrontDoor())
	assert.Empty(t, plain.Hostnames("staging"))

	custom, err := Load(source(t, with(map[string]string{"appstack:domain": "example.com",
		"appstack:idleTimeout": "1h"})))
	require.NoError(t, err)
	assert.Equal(t, time.Hour, custom.IdleTimeout)
}
