package workflows

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRulesRefuseTheMistakesTheyAreFor gives each security rule a small workflow with the one mistake it exists
// to catch, beyond what the old workflows had.
func TestRulesRefuseTheMistakesTheyAreFor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(map[string]*workflow) problems
		files map[string]string
		want  string
	}{
		{"the read-only production environment cannot deploy", checkRoles, map[string]string{"deploy.yml": `
jobs:
  production-preview:
    environment: production-preview
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_ROLE_ARN }}"}}
      - {run: bin/stackctl up -stack production}
`}, "production-preview is read-only: stackctl up -stack production belongs in production"},
		{"staging's role cannot touch production", checkRoles, map[string]string{"deploy.yml": `
jobs:
  staging:
    environment: staging
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_ROLE_ARN }}"}}
      - {run: bin/stackctl preview -stack production -out p.txt}
`}, "stackctl preview -stack production does not belong in environment staging"},
		{"the pull-request role previews staging only", checkRoles, map[string]string{"preview.yml": `
on: pull_request
jobs:
  cloud:
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_PREVIEW_ROLE_ARN }}"}}
      - {run: bin/stackctl preview -stack production -out p.txt}
`}, "the pull-request role previews staging only, not stackctl preview [production]"},
		{"the pull-request role has no environment", checkRoles, map[string]string{"preview.yml": `
on: pull_request
jobs:
  cloud:
    environment: staging
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_PREVIEW_ROLE_ARN }}"}}
`}, `environment "staging" has its own role`},
		{"a role without an environment", checkRoles, map[string]string{"reap.yml": `
jobs:
  reap:
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_ROLE_ARN }}"}}
`}, "assumes vars.AWS_ROLE_ARN without one of the environments"},
		{"no pull_request_target", checkPullRequestsStayOffProduction, map[string]string{"x.yml": `
on: pull_request_target
jobs: {}
`}, "pull_request_target runs pull request code"},
		{"the comment workflow checks out no pull request code", checkPreviewComment, map[string]string{"preview-comment.yml": `
jobs:
  comment:
    steps:
      - {uses: actions/checkout@x, with: {ref: "${{ github.event.workflow_run.head_sha }}"}}
`}, "only the default branch's code runs here"},
		{"a drift check does not queue in a deploy's group", checkDrift, map[string]string{"drift.yml": `
on: {schedule: [{cron: "1 1 * * *"}]}
jobs:
  staging:
    environment: staging
    concurrency: {group: pulumi-staging}
    steps: [{run: bin/stackctl drift -stack staging -out d.txt}, {run: bin/notify -chat failure}]
`}, "shares the deploy's concurrency group pulumi-staging"},
		{"production drift is read-only", checkDrift, map[string]string{"drift.yml": `
on: {schedule: [{cron: "1 1 * * *"}]}
jobs:
  production:
    environment: production
    steps: [{run: bin/stackctl drift -stack production -out d.txt}, {run: bin/notify -chat failure}]
`}, `checks production in environment "production", want production-drift`},
		{"production's preview environment runs no drift check (its refresh reads secret parameters)", checkRoles,
			map[string]string{"drift.yml": `
jobs:
  production:
    environment: production-preview
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_ROLE_ARN }}"}}
      - {run: bin/stackctl drift -stack production -out d.txt}
`}, "production-preview is read-only: stackctl drift -stack production belongs in production"},
		{"the drift environment only checks drift", checkRoles, map[string]string{"drift.yml": `
jobs:
  production:
    environment: production-drift
    steps:
      - {uses: aws-actions/configure-aws-credentials@x, with: {role-to-assume: "${{ vars.AWS_ROLE_ARN }}"}}
      - {run: bin/stackctl preview -stack production -out p.txt}
`}, "production-drift runs only stackctl drift -stack production, not stackctl preview -stack production"},
		{"production's drift check runs the commit production runs, not main's head", checkDrift, map[string]string{"drift.yml": `
on: {schedule: [{cron: "1 1 * * *"}]}
jobs:
  production-commit:
    permissions: {contents: read, actions: read}
    outputs: {sha: "${{ steps.running.outputs.sha }}"}
    steps: [{id: running, run: bin/deploygate running -environment production}]
  production:
    needs: production-commit
    environment: production-drift
    steps:
      - {uses: actions/checkout@x}
      - {run: bin/stackctl drift -stack production -out d.txt}
      - {run: bin/notify -chat failure}
`}, `drift.yml/production: checks out "", not the commit production runs`},
		{"a value passed to make unchecked", checkMakeFlags, map[string]string{"e2e.yml": `
jobs:
  e2e:
    steps:
      - run: |
          check() { if ! [[ "$2" =~ $3 ]]; then exit 1; fi; }
          check fail-with "$FAIL_WITH" '^(pull|health)$'
          make e2e E2E_FLAGS="-fail-with $FAIL_WITH -region $REGION"
`}, "e2e.yml/e2e: $REGION reaches make's shell unchecked"},
		{"a rollback that waits for a human is not automatic", checkRollback, map[string]string{"deploy.yml": `
jobs:
  production:
    steps:
      - {run: 'bin/stackctl outputs -stack production -out "$RUNNER_TEMP/before.json"'}
      - {run: bin/stackctl up -stack production}
      - {id: smoke, run: bin/smoke -outputs o.json}
      - {if: "github.event_name == 'workflow_dispatch'", run: 'bin/stackctl rollback -stack production -to "$RUNNER_TEMP/before.json"'}
`}, "must run stackctl rollback -stack production"},
		{"a deploy checks out the commit the gate passed", checkDeployGate, map[string]string{"deploy.yml": `
on: {workflow_run: {workflows: [ci], types: [completed], branches: [main]}}
jobs:
  gate: {if: "github.event.workflow_run.event == 'push'", outputs: {sha: "${{ steps.gate.outputs.sha }}"}, steps: []}
  staging:
    needs: gate
    steps: [{uses: actions/checkout@x}]
`}, `deploy.yml/staging: checks out "", not the commit the gate passed`},
		{"a version in a comment is still a version", checkNoPulumiVersion, map[string]string{"x.yml": `
# uses the Pulumi CLI v3.201.0
jobs: {}
`}, "names a Pulumi version: # uses the Pulumi CLI v3.201.0"},
		{"the webhook is a secret, not a variable", checkNotifications, map[string]string{"reap.yml": `
jobs:
  reap:
    steps: [{if: always(), run: bin/notify -status "$JOB_STATUS", env: {SLACK_WEBHOOK_URL: "${{ vars.SLACK_WEBHOOK_URL }}", JOB_STATUS: "${{ job.status }}"}}]
`}, "reap.yml/reap: the webhook comes from the secret SLACK_WEBHOOK_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := map[string]*workflow{}
			for name, raw := range tc.files {
				w, err := parse(name, raw)
				require.NoError(t, err)
				ws[name] = w
			}
			found := tc.check(ws)
			assert.Contains(t, strings.Join(found, "\n"), tc.want)
		})
	}
}

func TestThePinRuleCatchesTagsUnknownCommitsAndWrongComments(t *testing.T) {
	for uses, want := range map[string]string{
		"actions/upload-artifact@v3":                                                              "is not pinned to a full commit SHA",
		"actions/checkout@main":                                                                   "is not pinned to a full commit SHA",
		"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1":                               "is not pinned to a full commit SHA",
		"actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0":                      "is not a verified pin",
		"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.0":                      "is v7.0.1, not v7.0.0",
		"actions/upload-artifact@ff15f0306b3f739f7b6fd43fb5d26cd321bd4de5 # v3.1.3":               "runs on node16",
		"actions/setup-go@44694675825211faa026b3c33043df3e48a5fa00 # v6.0.0":                      "runs on node20",
		"aws-actions/configure-aws-credentials@a03048d87541d1d9fcf2ecf528a4a65ba9bd7838 # v5.0.0": "runs on node20",
	} {
		assert.Contains(t, pinProblem(uses), want, uses)
	}
	assert.Empty(t, pinProblem("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"))
}

// TestTheRulesCatchTheGateThatTrustedTheBranchName runs the deploy rules on deploy.yml as it was when its gate
// compared workflow_run.head_branch with "main" (testdata/namegate): a tag named main passed it.
func TestTheRulesCatchTheGateThatTrustedTheBranchName(t *testing.T) {
	ws := readAll(t, filepath.Join("testdata", "namegate"))
	ws["ci.yml"] = load(t)["ci.yml"]
	for _, tc := range []struct {
		check func(map[string]*workflow) problems
		want  []string
	}{
		{checkDeployGate, []string{"deploy.yml/gate: the gate step must run bin/deploygate admit",
			"deploy.yml/gate: the gate step's env must be GITHUB_TOKEN",
			"deploy.yml/production: does not start with bin/deploygate current"}},
		{checkWebhookInEnvironments, []string{"deploy.yml/gate: reads secrets.SLACK_WEBHOOK_URL in no environment"}},
		{checkNotifications, []string{"deploy.yml/gate: no gate-refused job"}},
	} {
		found := strings.Join(tc.check(ws), "\n")
		for _, want := range tc.want {
			assert.Contains(t, found, want)
		}
	}
}
