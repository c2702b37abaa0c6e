package preview

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"appstack/internal/offline"
	"appstack/policy"
	"appstack/stacks"
)

// PricesAsOf dates the price table. The prices are AWS's public on-demand list prices for ap-southeast-1 as
// recorded on that date; they are not fetched live, so the estimate is a guide, not a quote.
const PricesAsOf = "2025-06"

// StaleAfter is how old the price table may grow before the estimate says it may be out of date.
const StaleAfter = 6 * 30 * 24 * time.Hour

// StaleNote says that prices dated asOf (YYYY-MM) are older than StaleAfter at now, or returns "".
func StaleNote(asOf string, now time.Time) string {
	t, err := time.Parse("2006-01", asOf)
	if err != nil {
		return fmt.Sprintf("the price table's date %q is not a month (YYYY-MM)", asOf)
	}
	if now.Sub(t) <= StaleAfter {
		return ""
	}
	return fmt.Sprintf("the prices are from %s, more than 6 months ago: AWS may have changed them since "+
		"(https://aws.amazon.com/ec2/pricing/on-demand/); update the table in internal/preview/cost.go", asOf)
}

// HoursPerMonth is AWS's billing convention.
const HoursPerMonth = 730

// PriceRegion is the region the table holds prices for. Other regions (us-east-1, us-west-2, eu-west-1,
// eu-central-1, ap-northeast-1, …) stay unpriced: a region's row needs AWS's own list prices for every item
// below (the instance types, gp3, the load balancer, CloudWatch, KMS), read from a source that can be cited
// (https://aws.amazon.com/ec2/pricing/on-demand/ or the Price List API's offer files,
// https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/<region>/index.json), and none was
// at hand when the table was made. Only the public IPv4 charge is the same everywhere (0.005 USD an hour in
// every region since 2024-02-01, https://aws.amazon.com/blogs/aws/new-aws-public-ipv4-address-charge-public-ip-insights/),
// which alone is no estimate.
const PriceRegion = "ap-southeast-1"

// instanceHourly is USD per hour, Linux on-demand.
var instanceHourly = map[string]float64{
	"t3.nano": 0.0066, "t3.micro": 0.0132, "t3.small": 0.0264, "t3.medium": 0.0528, "t3.large": 0.1056,
	"t3.xlarge": 0.2112, "t4g.nano": 0.0053, "t4g.micro": 0.0106, "t4g.small": 0.0212, "t4g.medium": 0.0424,
	"t4g.large": 0.0848,
}

const (
	gp3GBMonth         = 0.096 // USD per GB-month of gp3
	publicIPv4Hourly   = 0.005 // USD per hour per public IPv4 address
	logIngestionPerGB  = 0.70  // USD per GB ingested into CloudWatch Logs
	logBaselineGB      = 1.0   // assumed ingestion of a quiet host and its services, GB per month
	kmsKeyMonthly      = 1.00  // USD per customer-managed key per month
	alarmMonthly       = 0.10  // USD per standard-resolution alarm per month
	detailedMonitoring = 2.10  // USD per instance per month: 7 EC2 metrics at 0.30
	// Application Load Balancer (https://aws.amazon.com/elasticloadbalancing/pricing/): per hour, and per LCU-hour
	// (one LCU: 25 new connections/s, 3,000 active connections, 1 GB/h, 1,000 rule evaluations/s).
	albHourly    = 0.0252
	albLCUHourly = 0.008
	albBaseLCU   = 1.0 // assumed LCUs of a one-host app; more traffic costs more
	albPublicIPs = 2   // an internet-facing load balancer has a public IPv4 address per Availability Zone (two)
)

// Estimate is an estimated monthly cost.
type Estimate struct {
	Label      string `json:"label"`
	PricesAsOf string `json:"pricesAsOf"`
	// Stale says the table is older than StaleAfter; empty when it is not.
	Stale  string `json:"stale,omitempty"`
	Region string `json:"region"`
	// Priced is false when the table has no prices for the stack's region: then there is no total, not a
	// total of 0.
	Priced     bool       `json:"priced"`
	Lines      []CostLine `json:"lines"`
	TotalUSD   float64    `json:"totalUSD"`
	NotCounted []string   `json:"notCounted"`
	// Fleet is the range a fleet's size spans (appstack:hosting: fleet only): TotalUSD prices the group at its
	// minimum size, which it never goes below.
	Fleet *FleetCost `json:"fleet,omitempty"`
}

// FleetCost is what a fleet's hosts cost between the group's minimum and maximum size.
type FleetCost struct {
	// InstanceType is the type priced: the first of appstack:fleet.instanceTypes, which the group launches first.
	InstanceType string `json:"instanceType"`
	// Min and Max are the group's bounds; Desired its size at creation.
	Min     int `json:"min"`
	Max     int `json:"max"`
	Desired int `json:"desired"`
	// OnDemandAtMin, SpotAtMin, OnDemandAtMax and SpotAtMax split the hosts by purchase option at each bound.
	OnDemandAtMin int `json:"onDemandAtMin"`
	SpotAtMin     int `json:"spotAtMin"`
	OnDemandAtMax int `json:"onDemandAtMax"`
	SpotAtMax     int `json:"spotAtMax"`
	// OnDemandHostUSD is one On-Demand host a month: its instance hours, root volume, public address and detailed
	// monitoring where the stack has them. SpotHostUSD is the same without the instance hours, which Spot prices.
	OnDemandHostUSD float64 `json:"onDemandHostUSD"`
	SpotHostUSD     float64 `json:"spotHostUSD"`
	// MinMonthlyUSD and MaxMonthlyUSD are the whole estimate with the group at Min and at Max hosts, Spot hours
	// not counted.
	MinMonthlyUSD float64 `json:"minMonthlyUSD"`
	MaxMonthlyUSD float64 `json:"maxMonthlyUSD"`
}

// CostLine is one priced item.
type CostLine struct {
	Item       string  `json:"item"`
	Quantity   float64 `json:"quantity"`
	Unit       string  `json:"unit"`
	UnitUSD    float64 `json:"unitUSD"`
	MonthlyUSD float64 `json:"monthlyUSD"`
}

// EstimateCost prices the resources a run declared.
func EstimateCost(cfg *stacks.Config, res *offline.Result) Estimate {
	e := Estimate{Label: "ESTIMATE: list prices, not a quote", PricesAsOf: PricesAsOf, Region: PriceRegion,
		NotCounted: []string{"data transfer out", "DynamoDB requests and storage (on demand)",
			"ECR image storage", "SSM parameters (standard tier: free)", "log ingestion above the baseline"},
		Stale: StaleNote(PricesAsOf, time.Now())}
	if cfg.Region != PriceRegion {
		e.Region = cfg.Region
		e.NotCounted = nil
		return e
	}
	e.Priced = true
	// Lines are summed per item and sorted, so the estimate never depends on registration order.
	lines := map[string]*CostLine{}
	add := func(item string, qty float64, unit string, price float64) {
		if l, ok := lines[item]; ok {
			l.Quantity += qty
			return
		}
		lines[item] = &CostLine{Item: item, Quantity: qty, Unit: unit, UnitUSD: price}
	}
	fleet := cfg.IsFleet()
	for _, r := range res.Resources {
		switch r.Type {
		case policy.Instance:
			if fleet {
				continue // a fleet's hosts are the group's, priced from appstack:fleet below
			}
			typ := lookupString(r, "instanceType")
			if price, ok := instanceHourly[typ]; ok {
				add("EC2 "+typ, HoursPerMonth, "hours", price)
			} else {
				e.NotCounted = append(e.NotCounted, "instance type "+typ+" (not in the table)")
			}
			if v, ok := offline.Lookup(r.Inputs, "rootBlockDevice.volumeSize"); ok && v.IsNumber() {
				add("EBS gp3 root volume", v.NumberValue(), "GB-month", gp3GBMonth)
			}
			if v, ok := offline.Lookup(r.Inputs, "monitoring"); ok && v.IsBool() && v.BoolValue() {
				add("EC2 detailed monitoring", 1, "instance-month", detailedMonitoring)
			}
		case policy.Eip:
			add("public IPv4 (Elastic IP)", HoursPerMonth, "hours", publicIPv4Hourly)
		case policy.LogGroup:
			add("CloudWatch Logs ingestion baseline", logBaselineGB, "GB", logIngestionPerGB)
		case policy.Key:
			add("KMS customer-managed key", 1, "key-month", kmsKeyMonthly)
		case policy.Alarm:
			add("CloudWatch alarm", 1, "alarm-month", alarmMonthly)
		case policy.LoadBalancer:
			add("Application Load Balancer", HoursPerMonth, "hours", albHourly)
			add("ALB capacity units (baseline)", HoursPerMonth*albBaseLCU, "LCU-hours", albLCUHourly)
			add("public IPv4 (load balancer)", HoursPerMonth*albPublicIPs, "hours", publicIPv4Hourly)
			e.NotCounted = append(e.NotCounted, "Route 53 hosted zone (0.50 USD a month; it exists before the "+
				"stack) and queries (alias queries to the load balancer are free)", "ACM public certificates (free)",
				"load balancer capacity above the baseline LCU", "access logs stored in S3")
		}
	}
	if fleet {
		e.Fleet = fleetCost(cfg, add, &e.NotCounted)
	}
	for _, item := range slices.Sorted(maps.Keys(lines)) {
		l := *lines[item]
		l.MonthlyUSD = round(l.Quantity * l.UnitUSD)
		e.Lines = append(e.Lines, l)
		e.TotalUSD += l.MonthlyUSD
	}
	e.TotalUSD = round(e.TotalUSD)
	if f := e.Fleet; f != nil {
		f.MinMonthlyUSD = e.TotalUSD
		f.MaxMonthlyUSD = round(e.TotalUSD + float64(f.OnDemandAtMax-f.OnDemandAtMin)*f.OnDemandHostUSD +
			float64(f.SpotAtMax-f.SpotAtMin)*f.SpotHostUSD)
	}
	return e
}

// fleetCost prices the Auto Scaling group at its minimum size through add, and returns its range. The group's
// hosts are priced from the configuration, since their instances are launched by Auto Scaling, not declared.
func fleetCost(cfg *stacks.Config, add func(item string, qty float64, unit string, price float64),
	notCounted *[]string) *FleetCost {
	shape := cfg.FleetShape()
	typ := shape.InstanceTypes[0]
	f := &FleetCost{InstanceType: typ, Min: shape.Min, Max: shape.Max, Desired: shape.Desired}
	f.OnDemandAtMin, f.SpotAtMin = splitCapacity(shape.Min, *shape.OnDemandBase, shape.SpotPercent)
	f.OnDemandAtMax, f.SpotAtMax = splitCapacity(shape.Max, *shape.OnDemandBase, shape.SpotPercent)

	// Per host: the root volume, a public IPv4 address when the hosts sit in the front door's public subnets
	// (no appstack:fleet.subnetIds), and detailed monitoring.
	perHost := []struct {
		item, unit string
		qty, price float64
		on         bool
	}{
		{"EBS gp3 root volume", "GB-month", float64(cfg.Instance.RootVolumeGiB), gp3GBMonth, true},
		{"public IPv4 (fleet hosts)", "hours", HoursPerMonth, publicIPv4Hourly, len(shape.SubnetIDs) == 0},
		{"EC2 detailed monitoring", "instance-month", 1, detailedMonitoring, cfg.Instance.DetailedMonitoring},
	}
	for _, c := range perHost {
		if !c.on {
			continue
		}
		add(c.item, c.qty*float64(shape.Min), c.unit, c.price)
		f.SpotHostUSD += c.qty * c.price
	}
	f.OnDemandHostUSD = f.SpotHostUSD
	if price, ok := instanceHourly[typ]; ok {
		if f.OnDemandAtMin > 0 {
			add("EC2 "+typ+" (fleet, On-Demand)", HoursPerMonth*float64(f.OnDemandAtMin), "hours", price)
		}
		f.OnDemandHostUSD += HoursPerMonth * price
	} else {
		*notCounted = append(*notCounted, "instance type "+typ+" (not in the table)")
	}
	f.OnDemandHostUSD, f.SpotHostUSD = round(f.OnDemandHostUSD), round(f.SpotHostUSD)
	if f.SpotAtMax > 0 {
		*notCounted = append(*notCounted, fmt.Sprintf("Spot instance hours (%d Spot host(s) at the minimum size, "+
			"%d at the maximum): the current Spot price, which varies", f.SpotAtMin, f.SpotAtMax))
	}
	if len(shape.InstanceTypes) > 1 {
		*notCounted = append(*notCounted, fmt.Sprintf("the other instance types (%s): priced as %s, which the "+
			"group launches first; another type costs its own price", strings.Join(shape.InstanceTypes[1:], ", "), typ))
	}
	if len(shape.SubnetIDs) > 0 {
		*notCounted = append(*notCounted, "the NAT gateway or VPC endpoints that serve the private subnets "+
			"(appstack:fleet.subnetIds; not part of the stack)")
	}
	*notCounted = append(*notCounted, fmt.Sprintf("fleet hosts that scaling adds above the minimum of %d (up to "+
		"%d): see the fleet line", shape.Min, shape.Max))
	return f
}

// splitCapacity splits n hosts into On-Demand and Spot as a mixed instances policy does: the first base are
// On-Demand, and of the rest spotPercent percent are Spot, the On-Demand share rounded up ("If the result
// creates a fractional number, Amazon EC2 Auto Scaling rounds up to the next integer in favor of On-Demand
// Instances", EC2 Auto Scaling user guide, mixed instances groups).
func splitCapacity(n, base, spotPercent int) (onDemand, spot int) {
	onDemand = min(base, n)
	above := n - onDemand
	onDemandAbove := (above*(100-spotPercent) + 99) / 100
	return onDemand + onDemandAbove, above - onDemandAbove
}

func lookupString(r offline.Resource, path string) string {
	if v, ok := offline.Lookup(r.Inputs, path); ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

func round(x float64) float64 { return math.Round(x*100) / 100 }

func (e Estimate) write(p *printer) {
	if !e.Priced {
		p.printf("Estimated monthly cost: not priced. The price table holds %s list prices only (as of %s), and "+
			"the stack is in %s, for which no list prices from a citable AWS source were recorded; see "+
			"https://aws.amazon.com/ec2/pricing/on-demand/ for its prices, or add them with their source to "+
			"internal/preview/cost.go.\n", PriceRegion, e.PricesAsOf, e.Region)
		return
	}
	p.printf("Estimated monthly cost (%s; %s prices as of %s):\n", e.Label, e.Region, e.PricesAsOf)
	if e.Stale != "" {
		p.printf("  !! %s\n", e.Stale)
	}
	for _, l := range e.Lines {
		p.printf("  %-38s %8.2f %-14s x %7.4f = %8.2f USD\n", l.Item, l.Quantity, l.Unit, l.UnitUSD, l.MonthlyUSD)
	}
	p.printf("  %-38s %35s %8.2f USD\n", "total", "", e.TotalUSD)
	if f := e.Fleet; f != nil {
		p.printf("  fleet of %d-%d %s hosts (%d at creation): %.2f USD a month at %d hosts (%d On-Demand, %d Spot), "+
			"%.2f USD at %d hosts (%d On-Demand, %d Spot); one more On-Demand host adds %.2f USD\n", f.Min, f.Max,
			f.InstanceType, f.Desired, f.MinMonthlyUSD, f.Min, f.OnDemandAtMin, f.SpotAtMin, f.MaxMonthlyUSD, f.Max,
			f.OnDemandAtMax, f.SpotAtMax, f.OnDemandHostUSD)
	}
	for _, n := range e.NotCounted {
		p.printf("  not counted: %s\n", n)
	}
}
