package infra_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	fleetcomp "appstack/components/fleet"
	"appstack/components/host"
	"appstack/stacks"
)

// The library never imports the stack config (the layout test in testing/workflows checks it), so it keeps its
// own names for what the config names: they must agree.
func TestTheLibraryAndTheConfigAgreeOnNames(t *testing.T) {
	assert.Equal(t, stacks.CPUMetric, fleetcomp.CPU)
	assert.Equal(t, stacks.RequestsMetric, fleetcomp.Requests)
	assert.Equal(t, stacks.MinRootVolumeGiB, host.MinRootVolumeGiB)
}
