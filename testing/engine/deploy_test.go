//go:build engine

package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/readiness"
)

const (
	instanceTok = "aws:ec2/instance:Instance"
	assocTok    = "aws:ec2/eipAssociation:EipAssociation"
)

// boots sets how the next created hosts' boots end, in order (offline.BootOutcome); the stand-in reads the file
// named by APPSTACK_STANDIN_BOOTS, and every host after the listed ones boots ready.
func (e *engine) boots(t *testing.T, outcomes ...string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(e.state, "standin-boots"),
		[]byte(strings.Join(outcomes, "\n")+"\n"), 0o600))
}

// tryUp runs an up that may fail and returns its error and the info lines the program logged.
func (e *engine) tryUp(t *testing.T, ctx context.Context, stack string) ([]string, error) {
	t.Helper()
	ch := make(chan events.EngineEvent)
	var infos []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if d := ev.DiagnosticEvent; d != nil && d.Severity == "info" {
				infos = append(infos, strings.TrimSpace(d.Message))
			}
		}
	}()
	_, err := e.m.Up(ctx, stack, optup.EventStreams(ch))
	<-done
	return infos, err
}

// previewOps runs a preview and returns each resource's operations by name.
func (e *engine) previewOps(t *testing.T, ctx context.Context, stack string) map[string][]string {
	t.Helper()
	st, err := e.m.Stack(ctx, stack)
	require.NoError(t, err)
	ch, ops, done := collectOps()
	_, err = st.Preview(ctx, optpreview.EventStreams(ch))
	<-done
	require.NoError(t, err)
	return ops
}

// change edits the sample service, so that its image, and with it the host, change.
func (e *engine) change(t *testing.T, what string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(e.work, "app", "main.go"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n// " + what + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// hosts lists the instances the stand-in created, in order, and the instance each association was given.
func (e *engine) hosts(t *testing.T) (created, associated []string) {
	t.Helper()
	for _, c := range e.calls(t) {
		switch {
		case c["op"] == "create" && c["type"] == instanceTok:
			created = append(created, c["id"])
		case (c["op"] == "create" || c["op"] == "update") && c["type"] == assocTok:
			associated = append(associated, c["instance"])
		}
	}
	return created, associated
}

// index is the position of the first call matching op, type and id in the call log, or -1.
func (e *engine) index(t *testing.T, op, typ, field, value string) int {
	t.Helper()
	return slices.IndexFunc(e.calls(t), func(c map[string]string) bool {
		return c["op"] == op && c["type"] == typ && c[field] == value
	})
}

func TestAFailedBootKeepsTrafficAndAReRunBootsAFreshHost(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	_, err := e.m.CreateReview(ctx, 11, "staging", 0)
	require.NoError(t, err)
	stack := "pr-11"
	e.boots(t, "ready", "failed pull docker pull web failed", "failed health timeout: web did not answer",
		"ready")

	infos, err := e.tryUp(t, ctx, stack)
	require.NoError(t, err)
	created, associated := e.hosts(t)
	require.Len(t, created, 1)
	serving := created[0]
	assert.Equal(t, []string{serving}, associated)
	var timeline []string
	for _, line := range infos {
		if strings.HasPrefix(line, "boot timeline ") {
			timeline = append(timeline, line)
		}
	}
	require.Len(t, timeline, 1, "the gate prints the boot's timeline once: %q", infos)
	id, steps, err := readiness.ParseTimeline(timeline[0])
	require.NoError(t, err, timeline[0])
	assert.Equal(t, serving, id)
	assert.Equal(t, readiness.Timeline{{Name: "install", Seconds: 12}, {Name: "pull", Seconds: 8},
		{Name: "secret", Seconds: 1}, {Name: "start", Seconds: 2}, {Name: "health", Seconds: 20},
		{Name: "total", Seconds: 43}}, steps)

	t.Run("a failed boot keeps the address on the serving host and fails with the reason", func(t *testing.T) {
		e.change(t, "a version whose boot fails")
		_, err := e.tryUp(t, ctx, stack)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `failed its boot at step "pull": docker pull web failed`)
		assert.Contains(t, err.Error(), "The Elastic IP stays on the previous host")
		created, associated := e.hosts(t)
		require.Len(t, created, 2, "a new host was booted")
		assert.Equal(t, []string{serving}, associated, "the association never named the failed host")
		assert.Equal(t, -1, e.index(t, "delete", instanceTok, "id", serving), "the serving host stays")
	})

	t.Run("re-running the same deploy boots a fresh host and gates it", func(t *testing.T) {
		assert.Contains(t, e.previewOps(t, ctx, stack)["app-host-instance"], "replace",
			"a preview of the re-run shows the fresh host")
		_, err := e.tryUp(t, ctx, stack)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `failed its boot at step "health": timeout: web did not answer`,
			"the fresh host was gated, not the failed one read again")
		created, associated := e.hosts(t)
		require.Len(t, created, 3, "a fresh host, with a new instance id")
		assert.NotEqual(t, created[1], created[2])
		assert.Equal(t, []string{serving}, associated, "traffic stays on the serving host")
		assert.Equal(t, -1, e.index(t, "delete", instanceTok, "id", serving))
	})

	t.Run("a fixed version takes the address, and only then is the old host deleted", func(t *testing.T) {
		e.change(t, "the fixed version")
		_, err := e.tryUp(t, ctx, stack)
		require.NoError(t, err)
		created, associated := e.hosts(t)
		require.Len(t, created, 4)
		fixed := created[3]
		assert.Equal(t, []string{serving, fixed}, associated)
		switched := e.index(t, "create", assocTok, "instance", fixed)
		if switched < 0 {
			switched = e.index(t, "update", assocTok, "instance", fixed)
		}
		deleted := e.index(t, "delete", instanceTok, "id", serving)
		require.GreaterOrEqual(t, switched, 0)
		require.GreaterOrEqual(t, deleted, 0, "the old host is deleted")
		assert.Less(t, switched, deleted, "the address moved before the old host was deleted")
		for _, failed := range created[1:3] {
			assert.Greater(t, e.index(t, "delete", instanceTok, "id", failed), switched,
				"the failed hosts go after the switch too")
		}
	})

	t.Run("a deploy with no change keeps the healthy host", func(t *testing.T) {
		_, err := e.tryUp(t, ctx, stack)
		require.NoError(t, err)
		created, _ := e.hosts(t)
		assert.Len(t, created, 4, "no host is replaced")
	})
}
