package readiness

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModelledSignalsLandAsTheBootScriptPutsThem(t *testing.T) {
	const old, fp = "sha256:00000000000000000000000000000000", "sha256:11111111111111111111111111111111"
	params := map[string]string{"/app/ready/i-old": "ready " + old + " total=40", "/other/ready/i-x": "ready " + old}

	failed, ok, err := ModelledSignal("failed pull docker pull web failed", fp)
	require.NoError(t, err)
	require.True(t, ok)
	s, err := Parse(failed)
	require.NoError(t, err)
	assert.Equal(t, Failed, s.State)
	assert.Equal(t, "pull", s.Step)
	assert.Equal(t, "docker pull web failed", s.Reason)
	RecordSignal(params, "/app/ready", "i-bad", fp, failed)
	assert.Contains(t, params, "/app/ready/i-old", "a failed host deletes nothing")

	ready, ok, err := ModelledSignal("ready", fp)
	require.NoError(t, err)
	require.True(t, ok)
	RecordSignal(params, "/app/ready", "i-good", fp, ready)
	assert.NotContains(t, params, "/app/ready/i-old", "a ready host deletes the other fingerprints' signals")
	assert.Contains(t, params, "/app/ready/i-bad", "its own fingerprint's stay")
	assert.Contains(t, params, "/other/ready/i-x", "another prefix is not its to clean")

	_, ok, err = ModelledSignal("silent", fp)
	assert.NoError(t, err)
	assert.False(t, ok, "a silent boot writes nothing")
	_, _, err = ModelledSignal("failed", fp)
	assert.Error(t, err, "a failure names its step")
}
