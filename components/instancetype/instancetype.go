// Package instancetype holds what appstack knows of EC2 instance types without asking EC2: whether a type can be
// EBS-optimized, and why appstack cannot run one. The components, the config's validation and the policy share it.
package instancetype

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EBSOptimizedSupport is what EC2's DescribeInstanceTypes reports for an instance type in
// EbsInfo.EbsOptimizedSupport (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsInfo.html): whether
// the type can be EBS-optimized at all, on request, or always.
type EBSOptimizedSupport string

// The values of EbsInfo.EbsOptimizedSupport.
const (
	// EBSUnsupported types have no dedicated EBS bandwidth: RunInstances refuses ebsOptimized true for them.
	EBSUnsupported EBSOptimizedSupport = "unsupported"
	// EBSSupported types are EBS-optimized when asked (ebsOptimized true), at an hourly charge.
	EBSSupported EBSOptimizedSupport = "supported"
	// EBSDefault types are always EBS-optimized, whatever ebsOptimized says.
	EBSDefault EBSOptimizedSupport = "default"
)

// legacyEBS is EbsOptimizedSupport for every size of the instance families in which it is not "default": the
// previous-generation sizes that support EBS optimization on request, with the bandwidth AWS lists for each
// (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-optimized.html, "Previous generation instances"), and
// the other sizes of those families, which have none (t2, like t1, has no EBS-optimized size). Every other
// family — every current generation, and the previous-generation c4, d2, m4, p2, p3, r4, x1 — is
// EBS-optimized by default.
var legacyEBS = map[string]EBSOptimizedSupport{
	"c1.medium": EBSUnsupported, "c1.xlarge": EBSSupported, // 1,000 Mbps
	"c3.large": EBSUnsupported, "c3.xlarge": EBSSupported, "c3.2xlarge": EBSSupported, "c3.4xlarge": EBSSupported,
	"c3.8xlarge":  EBSUnsupported,
	"cc2.8xlarge": EBSUnsupported,
	"cg1.4xlarge": EBSUnsupported,
	"cr1.8xlarge": EBSUnsupported,
	"g2.2xlarge":  EBSSupported, "g2.8xlarge": EBSUnsupported,
	"hi1.4xlarge": EBSUnsupported,
	"hs1.8xlarge": EBSUnsupported,
	"i2.xlarge":   EBSSupported, "i2.2xlarge": EBSSupported, "i2.4xlarge": EBSSupported, "i2.8xlarge": EBSUnsupported,
	"m1.small": EBSUnsupported, "m1.medium": EBSUnsupported, "m1.large": EBSSupported, "m1.xlarge": EBSSupported,
	"m2.xlarge": EBSUnsupported, "m2.2xlarge": EBSSupported, "m2.4xlarge": EBSSupported,
	"m3.medium": EBSUnsupported, "m3.large": EBSUnsupported, "m3.xlarge": EBSSupported, "m3.2xlarge": EBSSupported,
	"r3.large": EBSUnsupported, "r3.xlarge": EBSSupported, "r3.2xlarge": EBSSupported, "r3.4xlarge": EBSSupported,
	"r3.8xlarge": EBSUnsupported,
	"t1.micro":   EBSUnsupported,
	"t2.nano":    EBSUnsupported, "t2.micro": EBSUnsupported, "t2.small": EBSUnsupported,
	"t2.medium": EBSUnsupported, "t2.large": EBSUnsupported, "t2.xlarge": EBSUnsupported,
	"t2.2xlarge": EBSUnsupported,
}

// paravirtualOnly are the families that boot only paravirtual (PV) AMIs. appstack boots Amazon Linux 2023, which
// is HVM only, so a host of these families never starts. The HVM list of
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/virtualization_types.html names every current generation
// and the previous-generation cc2, cr1, hi1 and hs1; the Amazon Linux instance type matrix
// (https://aws.amazon.com/amazon-linux-ami/instance-type-matrix/) gives c1, m1, m2 and t1 PV only.
var paravirtualOnly = []string{"c1", "m1", "m2", "t1"}

func family(instanceType string) string {
	f, _, _ := strings.Cut(instanceType, ".")
	return f
}

// EBSSupport is EC2's EbsOptimizedSupport for an instance type; false for a size its (previous-generation)
// family never had, such as m3.4xlarge.
func EBSSupport(instanceType string) (EBSOptimizedSupport, bool) {
	if s, ok := legacyEBS[instanceType]; ok {
		return s, true
	}
	f := family(instanceType)
	for t := range legacyEBS {
		if family(t) == f {
			return "", false
		}
	}
	return EBSDefault, true
}

// EBSOptimizable says whether every one of the instance types can be EBS-optimized, so that a host or launch
// template may ask for it: RunInstances refuses ebsOptimized true for an unsupported type, and a launch
// template serves every type of a fleet.
func EBSOptimizable(instanceTypes ...string) bool {
	for _, t := range instanceTypes {
		if s, ok := EBSSupport(t); !ok || s == EBSUnsupported {
			return false
		}
	}
	return true
}

// Unrunnable says why appstack cannot run hosts of an instance type (that matches instanceTypeRE), or "".
func Unrunnable(instanceType string) string {
	f := family(instanceType)
	if slices.Contains(paravirtualOnly, f) {
		return fmt.Sprintf("%q boots only paravirtual AMIs and appstack's Amazon Linux 2023 AMIs are HVM: "+
			"choose a current type such as t3.small", instanceType)
	}
	if _, ok := EBSSupport(instanceType); !ok {
		var sizes []string
		for _, t := range slices.Sorted(maps.Keys(legacyEBS)) {
			if family(t) == f {
				sizes = append(sizes, t)
			}
		}
		return fmt.Sprintf("%q is not an EC2 instance type: the %s family has %s", instanceType, f,
			strings.Join(sizes, ", "))
	}
	return ""
}
