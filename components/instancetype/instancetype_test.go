package instancetype

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// EbsOptimizedSupport as DescribeInstanceTypes reports it: the previous-generation sizes without dedicated EBS
// bandwidth refuse ebsOptimized, the ones with it take it on request, every current type has it always.
func TestEBSOptimizationFollowsWhatEC2ReportsPerType(t *testing.T) {
	for typ, want := range map[string]EBSOptimizedSupport{
		"t3.small": EBSDefault, "t4g.small": EBSDefault, "m7i.large": EBSDefault, "c4.large": EBSDefault,
		"t2.micro": EBSUnsupported, "t1.micro": EBSUnsupported,
		"m3.medium": EBSUnsupported, "m3.large": EBSUnsupported, "m3.xlarge": EBSSupported,
		"c3.large": EBSUnsupported, "c3.4xlarge": EBSSupported, "c3.8xlarge": EBSUnsupported,
		"r3.8xlarge": EBSUnsupported, "i2.8xlarge": EBSUnsupported, "g2.8xlarge": EBSUnsupported,
		"m1.small": EBSUnsupported, "m1.large": EBSSupported, "m2.xlarge": EBSUnsupported,
		"c1.medium": EBSUnsupported, "c1.xlarge": EBSSupported, "cc2.8xlarge": EBSUnsupported,
	} {
		got, ok := EBSSupport(typ)
		assert.True(t, ok, typ)
		assert.Equal(t, want, got, typ)
		assert.Equal(t, want != EBSUnsupported, EBSOptimizable(typ), typ)
	}
	_, ok := EBSSupport("m3.4xlarge")
	assert.False(t, ok, "m3 never came in 4xlarge")
	assert.False(t, EBSOptimizable("t3.small", "m3.medium"), "one launch template serves every type of a fleet")
	assert.True(t, EBSOptimizable("t3.small", "m3.xlarge"))
}
