package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const bootLineExample = "boot timeline i-0123456789abcdef0: install=12s pull=8s secret=1s start=2s health=20s total=43s"

func TestParseBootTimeline(t *testing.T) {
	b, ok, err := ParseBootTimeline("    info: " + bootLineExample)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "i-0123456789abcdef0", b.InstanceID)
	assert.Equal(t, []Step{{"install", 12 * time.Second}, {"pull", 8 * time.Second}, {"secret", time.Second},
		{"start", 2 * time.Second}, {"health", 20 * time.Second}}, b.Steps)
	assert.Equal(t, 43*time.Second, b.Total)
	assert.Equal(t, bootLineExample, b.String(), "printed back as the deploy printed it")

	for _, line := range []string{"Updating (e2e-1a2b3c4d)", "boot timeline: total=1s", "boot log in boot/i-0123abcd"} {
		_, ok, err := ParseBootTimeline(line)
		assert.False(t, ok, line)
		assert.NoError(t, err, line)
	}
	for _, line := range []string{"boot timeline i-0123456789abcdef0: install=12s pull=soon total=43s",
		"boot timeline i-0123456789abcdef0: install=12s pull=8s"} {
		_, ok, err := ParseBootTimeline(line)
		assert.True(t, ok, line)
		assert.Error(t, err, line)
	}
}

func TestTimelinePrintsEachMilestoneFromTheStartOfTheDeploy(t *testing.T) {
	start := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	tl := &Timeline{Label: "new version", Start: start, End: at(200)}
	tl.Add(Event{At: at(5), Type: "aws:ssm/parameter:Parameter", Op: "same"})
	tl.Add(Event{At: at(40), Type: InstanceType, Op: "create-replacement"})
	tl.Add(Event{At: at(100), Message: bootLineExample})
	tl.Add(Event{At: at(101), Message: bootLineExample}) // the same line twice (diagnostic and error)
	tl.Add(Event{At: at(104), Type: AssociationType, Op: "update"})
	tl.Add(Event{At: at(180), Type: InstanceType, Op: "delete-replaced"})
	var out strings.Builder
	tl.Print(&out)
	assert.Equal(t, `timeline of deploy "new version" (pulumi up started 01:00:00):
  +0s      pulumi up started
  +40s     new host created (create-replacement)
  +1m40s   `+bootLineExample+`
  +1m44s   address switched to the new host (aws:ec2/eipAssociation:EipAssociation update)
  +3m0s    a previous host deleted (delete-replaced)
  +3m20s   pulumi up finished: ok
  pulumi up start to switch: 1m44s; the boot itself (i-0123456789abcdef0): 43s
`, out.String())
	when, ok := tl.Switch()
	assert.True(t, ok)
	assert.Equal(t, at(104), when)
}

func TestTimelineOfAFailedDeploySaysNothingSwitched(t *testing.T) {
	start := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	tl := &Timeline{Label: "failing version", Start: start, End: start.Add(time.Minute), Err: errors.New("boom")}
	tl.Add(Event{At: start.Add(10 * time.Second), Type: InstanceType, Op: "create-replacement"})
	tl.Add(Event{At: start.Add(50 * time.Second), Type: AssociationType, Op: "update", Failed: true})
	tl.Add(Event{At: start.Add(50 * time.Second), Message: "boot timeline i-0aaaaaaaaaaaaaaaa: pull=x total=1s"})
	var out strings.Builder
	tl.Print(&out)
	assert.Contains(t, out.String(), "aws:ec2/eipAssociation:EipAssociation update failed")
	assert.Contains(t, out.String(), "pulumi up finished: failed")
	assert.Contains(t, out.String(), `malformed: boot timeline i-0aaaaaaaaaaaaaaaa: pull="x" is not a duration`)
	assert.Contains(t, out.String(), "no switch: the address stayed on the host it was on")
	_, ok := tl.Switch()
	assert.False(t, ok, "a failed association step is no switch")
}
