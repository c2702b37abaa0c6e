package asgapi_test

import (
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/rollout"
	"appstack/testing/standin/asgapi"
)

// The rollout controller against the stand-in, through the real SDK client: what the engine-level test relies on.
func (f *fleet) rollout(t *testing.T) (rollout.Result, []string, error) {
	t.Helper()
	var log []string
	r := &rollout.Rollout{API: f.client, Poll: time.Millisecond, Log: func(s string) { log = append(log, s) },
		Signals: func(context.Context) (map[string]string, error) {
			st, err := f.params.Read()
			if err != nil {
				return nil, err
			}
			out := map[string]string{}
			for name, v := range st.Parameters {
				out[path.Base(name)] = v
			}
			return out, nil
		}}
	res, err := r.Run(context.Background(), rollout.Request{Group: group,
		Policy: f.startInput().DesiredConfiguration.MixedInstancesPolicy, MinHealthyPercent: 100,
		Fingerprint: "sha256:" + strings.Repeat("b", 32), Timeout: time.Minute})
	return res, log, err
}

func TestTheRolloutControllerAgainstTheStandIn(t *testing.T) {
	t.Run("a good version rolls out, new hosts healthy before old ones go", func(t *testing.T) {
		f := newFleet(t)
		created := f.events(t)
		res, log, err := f.rollout(t)
		require.NoError(t, err, "%s", strings.Join(log, "\n"))
		assert.NotEmpty(t, res.RefreshID)
		assert.Equal(t, "2", versionOf(f.group(t)))
		assert.Equal(t, 2, asgapi.FewestHealthy(f.events(t), created[len(created)-1].Seq))

		res, _, err = f.rollout(t)
		require.NoError(t, err)
		assert.Empty(t, res.RefreshID, "a re-run finds the group on the version")
	})
	t.Run("a failed boot is rolled back at once and the up fails with its reason", func(t *testing.T) {
		f := newFleet(t, "ready", "ready", "failed health timeout: web did not answer")
		_, log, err := f.rollout(t)
		require.Error(t, err)
		var rerr *rollout.Error
		require.ErrorAs(t, err, &rerr, "%s", strings.Join(log, "\n"))
		assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, rerr.Status)
		assert.Contains(t, err.Error(), "failed its boot at step health: timeout: web did not answer")
		assert.Contains(t, f.srv.Actions(), "RollbackInstanceRefresh", "the controller rolled back on the signal")
		assert.Equal(t, "1", versionOf(f.group(t)))
		for _, i := range f.group(t).Instances {
			assert.Equal(t, "1", aws.ToString(i.LaunchTemplate.Version))
		}
		for _, e := range f.events(t) {
			assert.NotEqual(t, asgapi.OpUnhealthy, e.Op, "rolled back before Auto Scaling acted on its health")
		}

		// The fixed version (the outcomes are used up: every boot is ready) rolls out on the next run.
		_, log, err = f.rollout(t)
		require.NoError(t, err, "%s", strings.Join(log, "\n"))
		assert.Equal(t, "2", versionOf(f.group(t)))
	})
}
