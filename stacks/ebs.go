package stacks

import (
	"slices"
	"strings"
)

// notEBSOptimizable are the instance families that cannot be EBS-optimized: RunInstances refuses ebsOptimized
// true for them (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ebs-optimized.html lists the types that
// support it; cloudposse/terraform-aws-ec2-instance issue 174 shows a t2.micro refused). Every current-generation
// type is EBS-optimized by default.
var notEBSOptimizable = []string{"t1", "t2"}

// EBSOptimizable says whether every one of the instance types can be EBS-optimized, so that a host or launch
// template may ask for it.
func EBSOptimizable(instanceTypes ...string) bool {
	for _, t := range instanceTypes {
		family, _, _ := strings.Cut(t, ".")
		if slices.Contains(notEBSOptimizable, family) {
			return false
		}
	}
	return true
}
