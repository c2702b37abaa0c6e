package stacks

import (
	"regexp"
	"strings"
	"time"
)

// The front door's limits, as the Application Load Balancer API states them.
const (
	// MaxIdleTimeout is the longest idle timeout a load balancer accepts (idle_timeout.timeout_seconds: 1-4000).
	MaxIdleTimeout = 4000 * time.Second
	// minFrontDoorSubnets: an Application Load Balancer needs subnets in at least two Availability Zones.
	minFrontDoorSubnets = 2
)

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// HasFrontDoor reports whether the services are served over HTTPS by the front door (appstack:domain is set).
func (c *Config) HasFrontDoor() bool { return c.Domain != "" }

// Hostnames maps each service to its hostname in stack: services[].hostname or `<name>.<domain>`, with the stack
// name put before the domain in an ephemeral stack (`web.pr-7.example.com`), so that a review stack copied from
// staging never takes staging's names. Empty without a domain.
func (c *Config) Hostnames(stack string) map[string]string {
	out := map[string]string{}
	if c.Domain == "" {
		return out
	}
	for _, s := range c.Services {
		host := s.Hostname
		if host == "" {
			host = s.Name + "." + c.Domain
		}
		if c.Environment == Ephemeral {
			label := strings.TrimSuffix(strings.TrimSuffix(host, c.Domain), ".")
			host = stack + "." + c.Domain
			if label != "" {
				host = label + "." + host
			}
		}
		out[s.Name] = host
	}
	return out
}

// validDNSName reports whether name is a lower-case DNS name of two or more labels.
func validDNSName(name string) bool {
	labels := strings.Split(name, ".")
	if len(name) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !dnsLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// frontDoor checks appstack:domain, each service's hostname, appstack:idleTimeout and appstack:frontDoorSubnetIds.
func (v *validator) frontDoor(c *Config) {
	if c.Domain != "" && !validDNSName(c.Domain) {
		v.addf(key("domain"), "%q is not a DNS name such as example.com (lower case, no trailing dot)", c.Domain)
	}
	seen := map[string]int{}
	for i, s := range c.Services {
		k := key("services", i, "hostname")
		host := s.Hostname
		switch {
		case host == "" && c.Domain == "":
			continue
		case host != "" && c.Domain == "":
			v.addf(k, "%q is set but appstack:domain is not: hostnames need the front door's hosted zone", host)
			continue
		case host == "":
			host = s.Name + "." + c.Domain
		case !validDNSName(host):
			v.addf(k, "%q is not a DNS name (lower case letters, digits, - and .)", host)
			continue
		case host != c.Domain && !strings.HasSuffix(host, "."+c.Domain):
			v.addf(k, "%q is outside the hosted zone %s (appstack:domain)", host, c.Domain)
			continue
		}
		if j, dup := seen[host]; dup {
			v.addf(k, "%q is already the hostname of services[%d]; two services cannot share one", host, j)
			continue
		}
		seen[host] = i
	}
	if c.IdleTimeout < time.Second || c.IdleTimeout > MaxIdleTimeout || c.IdleTimeout%time.Second != 0 {
		v.addf(key("idleTimeout"), "%s: want whole seconds from 1s to %s (the load balancer's limits)",
			c.IdleTimeout, MaxIdleTimeout)
	}
	ids := c.FrontDoorSubnetIDs
	switch {
	case len(ids) > 0 && c.Domain == "":
		v.addf(key("frontDoorSubnetIds"), "set but appstack:domain is not: there is no front door")
	case len(ids) > 0 && c.VpcID == "":
		v.addf(key("frontDoorSubnetIds"), "only with vpcId: in the default VPC the front door uses its "+
			"default subnets")
	case c.Domain != "" && c.VpcID != "" && len(ids) < minFrontDoorSubnets:
		v.addf(key("frontDoorSubnetIds"), "the front door needs at least %d public subnets of %s in "+
			"different Availability Zones (an Application Load Balancer spans two or more zones)",
			minFrontDoorSubnets, c.VpcID)
	}
	dup := map[string]bool{}
	for i, id := range ids {
		switch {
		case !subnetIDRE.MatchString(id):
			v.addf(key("frontDoorSubnetIds", i), "%q is not a subnet id", id)
		case dup[id]:
			v.addf(key("frontDoorSubnetIds", i), "%q is listed twice", id)
		}
		dup[id] = true
	}
}
