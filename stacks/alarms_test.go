package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A review stack's deploy role may not create alarms that recover or reboot an instance (bootstrap:
// Spec.InstanceAlarms), so only the staging and production profiles ask for them.
func TestOnlyLongLivedProfilesGetInstanceAlarms(t *testing.T) {
	assert.True(t, Defaults(Staging).InstanceAlarms)
	assert.True(t, Defaults(Production).InstanceAlarms)
	assert.False(t, Defaults(Ephemeral).InstanceAlarms)
}
