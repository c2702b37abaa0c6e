package workflows

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"appstack/stacks"
)

// deployRE matches a step that deploys a stack: an up, a review stack's up, a rollback (an up of the digests
// that ran before).
var deployRE = regexp.MustCompile(`bin/stackctl (up|review|rollback)\b`)

// setupAllowance is what a deploy job spends before its first AWS session: checkouts, the setup action (the
// toolchain and the binaries), the deploy gate.
const setupAllowance = 15 * time.Minute

// TestADeployJobOutlastsItsDeploys: each deploy of a job runs on an AWS session of its own (one hour,
// stacks.DeploySession), within which a fleet's rollout and its rollback fit (stacks.validateDeployTime), and the
// job's timeout lets every deploy use its whole session: a job cut off halfway, or a deploy whose session runs
// out, leaves a fleet mid-refresh with no rollback.
func TestADeployJobOutlastsItsDeploys(t *testing.T) {
	checked := 0
	for _, w := range sorted(load(t)) {
		for name, j := range w.Jobs {
			deploys, fresh := 0, false
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
					fresh = true
				}
				if !deployRE.MatchString(s.Run) {
					continue
				}
				deploys++
				assert.True(t, fresh, "%s job %s, step %q: deploys on the AWS session of an earlier deploy; "+
					"configure-aws-credentials again before it", w.path, name, s.Name)
				fresh = false
			}
			if deploys == 0 {
				continue
			}
			checked++
			want := setupAllowance + time.Duration(deploys)*stacks.DeploySession
			assert.GreaterOrEqual(t, j.TimeoutMinutes, int(want/time.Minute),
				"%s job %s: %d deploy(s) of up to %s each after %s of setup", w.path, name, deploys,
				stacks.DeploySession, setupAllowance)
		}
	}
	assert.Equal(t, 3, checked, "staging, production and the review stack deploy")
}
