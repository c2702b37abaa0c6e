package workflows

import (
	"regexp"
	"slices"
	"strings"
)

// Which rules are ours, and which a maintained linter keeps instead.
//
// `make lint` runs actionlint (pinned in tools/go.mod, v1.7.12; its checks: docs/checks.md in its module) with
// shellcheck on every run: script. A rule stays here only where no maintained linter at hand reports the same
// mistake: actionlint; zizmor is not available here (it is in neither Debian bookworm nor npm: `apt-cache policy
// zizmor` and `npm view zizmor` find nothing); ghalint (a Go module, github.com/suzuki-shunsuke/ghalint) would
// report only the SHA part of the pin rule and write-all permissions, both of which the rules below report more
// strictly, so it would remove no rule. TestActionlintCoversOnlyPartOfTheGenericRules runs actionlint and the
// rule on the same bad workflow for each generic rule, so each line below is checked, and an actionlint upgrade
// that starts reporting a missed case fails that test (then the rule, or its part, goes to actionlint).
//
// Generic rules (about any repository's workflows), each kept because actionlint covers it only in part:
//   - "actions are pinned to verified releases on a supported Node": actionlint reports a popular action by a tag
//     whose runtime is retired (actions/checkout@v3, node16); it accepts a movable tag, any commit, a version
//     comment that is not the commit's, and Node 20, which runners deprecate.
//   - "run steps use bash with pipefail": not in actionlint (it checks shell names only).
//   - "no expression is expanded inside a script": actionlint reports the event fields it lists as untrusted
//     (github.event.pull_request.title, github.head_ref, …); it accepts github.event.workflow_run.head_branch (a
//     fork's branch name, which preview-comment reads), vars.*, inputs.* and step outputs in a script.
//   - "permissions are least privilege": actionlint checks scope names and levels only.
//   - "no long-lived cloud keys": actionlint reports a hard-coded container or service password only.
//   - "no pull request job can reach production", its pull_request_target part: not in actionlint.
//
// Repository rules (this repository's roles, stacks, environments, settings and commands): every other rule.
// No linter knows them: "every role comes from its job's environment", "no pull request job can reach
// production" (beyond pull_request_target), "production's preview runs before its approval…", "preview comments
// trust only the triggering run", "deploys run only what passed CI on main", "a failed smoke test rolls back…",
// "deploys, gates, reaps and drift reach the team", "deployed environments have their URL", "drift is checked on a
// schedule…", "no workflow names a Pulumi version", "review stacks use the review environment…", "workflows use
// only the documented variables and secrets", "deploys are serialised per stack…", "the chat webhook is read only
// in an environment", "values reach make's shell only after a check".

// rules is every rule the workflows keep. catches lists texts the rule must report for testdata/before.
var rules = []rule{
	{"actions are pinned to verified releases on a supported Node", checkPins,
		[]string{"actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 v4.6.2 runs on node20"}, nil},
	{"run steps use bash with pipefail", checkShell, []string{"ci.yml: defaults.run.shell"}, nil},
	{"no expression is expanded inside a script", checkNoExpressionsInScripts,
		[]string{"${{ vars.PULUMI_SECRETS_PROVIDER }}"}, nil},
	{"every role comes from its job's environment", checkRoles,
		[]string{"vars.AWS_DEPLOY_ROLE_ARN", "preview.yml/cloud: the pull-request role previews staging only"}, nil},
	{"no pull request job can reach production", checkPullRequestsStayOffProduction, []string{"preview.yml/cloud"}, nil},
	{"production's preview runs before its approval and is in the job summary", checkProductionPreview,
		[]string{"deploy.yml: no production-preview job"}, nil},
	{"preview comments trust only the triggering run", checkPreviewComment,
		[]string{"preview.yml: writes a pr-number", "cancelled", "runner.temp", "-head-sha"}, nil},
	{"the preview's diff gates the pull request on production data", checkPreviewDiffGates,
		[]string{`preview.yml/offline: "go run ./cmd/preview -stack \"$stack\" -diff \"out/$stack-base.json\" || true" discards the diff's exit status`,
			"x.yml/offline: env ACCEPT comes from ${{ contains(github.event.pull_request.title",
			"x.yml/offline: the preview files are not kept with if: always()"},
		map[string]string{"x.yml": `
jobs:
  offline:
    steps:
      - run: go run ./cmd/preview -stack staging -diff base.json || diff_status=$?
        env: {ACCEPT: "${{ contains(github.event.pull_request.title, 'accept') }}"}
      - uses: actions/upload-artifact@x
`}},
	{"deploys run only what passed CI on main", checkDeployGate,
		[]string{"deploy.yml: runs on push", "deploy.yml: no gate job"}, nil},
	{"a failed smoke test rolls back to the digests recorded before the up", checkRollback,
		[]string{"deploy.yml/production: no stackctl outputs before the up"}, nil},
	{"deploys, gates, reaps and drift reach the team", checkNotifications,
		[]string{"deploy.yml/staging: no notify step", "reap.yml/reap: no notify step"}, nil},
	{"deployed environments have their URL", checkEnvironmentURLs,
		[]string{"deploy.yml/production", "review-stack.yml/up"}, nil},
	{"drift is checked on a schedule in each environment, read-only for production", checkDrift,
		[]string{`drift.yml/production: checks production in environment "production-preview", want production-drift`,
			"drift.yml: no production-commit job"}, nil},
	{"no workflow names a Pulumi version", checkNoPulumiVersion,
		[]string{"-pulumi-version 3.200.0", `PULUMI_VERSION: "3.200.0"`, "install-cli"}, nil},
	{"review stacks use the review environment and its secrets provider", checkReviewStacks,
		[]string{"review-stack.yml/up: -secrets-provider"}, nil},
	{"workflows use only the documented variables and secrets", checkSettings,
		[]string{"vars.AWS_DEPLOY_ROLE_ARN", "deploy.yml/staging: vars.PULUMI_SECRETS_PROVIDER"}, nil},
	{"deploys are serialised per stack and never cancelled", checkSerialised,
		[]string{"deploy.yml/staging: changes a stack outside a pulumi-* concurrency group", `deploys production in group "pulumi-staging"`},
		map[string]string{"deploy.yml": `
jobs:
  staging:
    concurrency: {group: pulumi-staging, cancel-in-progress: true}
    steps: [{run: bin/stackctl up -stack staging}]
  production:
    concurrency: {group: pulumi-staging, cancel-in-progress: false}
    steps: [{run: bin/stackctl up -stack production}]
`}},
	{"permissions are least privilege", checkPermissions,
		[]string{"x.yml: the workflow default must be contents: read", "x.yml/a: id-token: write exactly where",
			"x.yml/b: contents: write", "x.yml/b: pull-requests: write without a comment"},
		map[string]string{"x.yml": `
permissions: {contents: write}
jobs:
  a:
    steps: [{uses: aws-actions/configure-aws-credentials@x}]
  b:
    permissions: {contents: write, pull-requests: write}
    steps: [{run: echo}]
`}},
	{"the chat webhook is read only in an environment", checkWebhookInEnvironments,
		[]string{"x.yml/gate: reads secrets.SLACK_WEBHOOK_URL in no environment"},
		map[string]string{"x.yml": `
jobs:
  gate:
    steps: [{if: failure(), run: bin/notify -status failure, env: {SLACK_WEBHOOK_URL: "${{ secrets.SLACK_WEBHOOK_URL }}"}}]
`}},
	{"values reach make's shell only after a check", checkMakeFlags,
		[]string{"e2e.yml/e2e: $REGION reaches make's shell unchecked", "$FAIL_WITH", "$SECRETS_PROVIDER"}, nil},
	{"no long-lived cloud keys", checkNoKeys, []string{"x.yml: aws-access-key-id"},
		map[string]string{"x.yml": `
jobs:
  a:
    steps: [{uses: aws-actions/configure-aws-credentials@x, with: {aws-access-key-id: "${{ secrets.KEY }}"}}]
`}},
}

// verifiedPins is every action release a workflow may use, by owner/repo@commit: the release tag the commit is
// and the runtime its action.yml declares (runs.using), read from the action's repository at that tag
// (git show <tag>:action.yml). Dependabot's update pull requests fail here until their new pin is added, after
// the same check.
var verifiedPins = map[string]struct{ version, runtime string }{
	"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1":                      {"v7.0.1", "node24"},
	"actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e":                      {"v7.0.0", "node24"},
	"actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f":               {"v7.0.0", "node24"},
	"actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c":             {"v8.0.1", "node24"},
	"aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c": {"v6.2.3", "node24"},
	// The releases these replaced: verified, and refused for their runtime.
	"actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8":                      {"v5.0.0", "node24"},
	"actions/setup-go@44694675825211faa026b3c33043df3e48a5fa00":                      {"v6.0.0", "node20"},
	"actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02":               {"v4.6.2", "node20"},
	"actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093":             {"v4.3.0", "node20"},
	"aws-actions/configure-aws-credentials@a03048d87541d1d9fcf2ecf528a4a65ba9bd7838": {"v5.0.0", "node20"},
	"actions/upload-artifact@ff15f0306b3f739f7b6fd43fb5d26cd321bd4de5":               {"v3.1.3", "node16"},
}

// supportedRuntimes are the action runtimes GitHub's runners keep: Node 20 is deprecated in favour of Node 24
// (actions/runner #3948: Node 24 by default, then required).
var supportedRuntimes = map[string]bool{"node24": true}

// pinned is owner/repo[/path]@<full commit SHA> # vMAJOR.MINOR.PATCH.
var pinned = regexp.MustCompile(`^([\w.-]+/[\w.-]+)(/[\w./-]+)?@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$`)

func usesLines(raw string) []string {
	var out []string
	for _, line := range strings.Split(raw, "\n") {
		if _, after, ok := strings.Cut(strings.TrimSpace(line), "uses: "); ok {
			out = append(out, after)
		}
	}
	return out
}

// pinProblem says what is wrong with one uses: reference, or "".
func pinProblem(uses string) string {
	m := pinned.FindStringSubmatch(uses)
	if m == nil {
		return uses + " is not pinned to a full commit SHA with a # vX.Y.Z comment"
	}
	key := m[1] + "@" + m[3]
	v, ok := verifiedPins[key]
	switch {
	case !ok:
		return key + " is not a verified pin: read its action.yml's runs.using at that tag, then add it"
	case v.version != m[4]:
		return key + " is " + v.version + ", not " + m[4] + " as its comment says"
	case !supportedRuntimes[v.runtime]:
		return key + " " + v.version + " runs on " + v.runtime + ", which GitHub's runners deprecate"
	}
	return ""
}

// checkPins: every action is a verified release commit on a supported runtime. actionlint reports only a popular
// action by a tag whose runtime is retired (node12, node16); a tag, an unverified commit, a wrong version comment
// and Node 20 pass it.
func checkPins(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, uses := range usesLines(w.raw) {
			if strings.HasPrefix(uses, "./") {
				continue
			}
			if msg := pinProblem(uses); msg != "" {
				p.add("%s: %s", w.path, msg)
			}
		}
		if strings.Contains(w.raw, "allow-unsafe-pr-checkout") {
			p.add("%s: allow-unsafe-pr-checkout lets a privileged workflow check out pull request code", w.path)
		}
	}
	return p
}

// checkShell: with defaults.run.shell: bash, a step runs `bash --noprofile --norc -eo pipefail {0}`; without it,
// `bash -e {0}` (docs.github.com workflow syntax, jobs.<job_id>.steps[*].shell; github/docs #23853). actionlint
// validates shell names only.
func checkShell(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		if w.Jobs != nil && w.Defaults.Run.Shell != "bash" {
			p.add("%s: defaults.run.shell is %q, not bash: without it a step runs `bash -e {0}`, and "+
				"`stackctl up | tee up.log` succeeds when the deploy fails", w.path, w.Defaults.Run.Shell)
		}
	}
	return p
}

var expression = regexp.MustCompile(`\$\{\{[^}]*\}\}`)

// checkNoExpressionsInScripts: an expression in run: is pasted into the script before bash reads it, so a branch
// name or a variable's value becomes code; scripts read env: variables instead (GitHub's security hardening
// guide, "Understanding the risk of script injections"). actionlint reports only the event fields it lists as
// untrusted; it misses github.event.workflow_run.head_branch, vars.*, inputs.* and step outputs.
func checkNoExpressionsInScripts(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		steps := w.Runs.Steps
		for _, j := range w.jobs() {
			steps = append(steps, j.Steps...)
		}
		for _, s := range steps {
			for _, e := range expression.FindAllString(s.Run, -1) {
				p.add("%s: step %q expands %s inside its script; pass it through env:", w.path, s.Name, e)
			}
		}
	}
	return p
}

var environments = []string{"review", "staging", "production-preview", "production", "production-drift"}

// checkRoles: a job that assumes a role declares its environment and takes vars.AWS_ROLE_ARN from it, so each
// role is trusted only by its own environment's subject; the pull-request preview role is the one exception, and
// it previews staging only. What a job does with its role must fit its environment.
func checkRoles(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		if strings.Contains(w.raw, "AWS_DEPLOY_ROLE_ARN") {
			p.add("%s: uses vars.AWS_DEPLOY_ROLE_ARN, one role for every environment", w.path)
		}
		for _, j := range w.jobs() {
			s, ok := j.assumesRole()
			if !ok {
				continue
			}
			where := w.path + "/" + j.name
			env := j.Environment.Name
			switch role := s.With["role-to-assume"]; role {
			case "${{ vars.AWS_PREVIEW_ROLE_ARN }}":
				if env != "" {
					p.add("%s: the pull-request preview role is a repository variable; environment %q has its own role", where, env)
				}
				if !w.on("pull_request") || len(w.triggers()) != 1 {
					p.add("%s: the pull-request preview role is for pull_request workflows only", where)
				}
				for sub, stacks := range j.stacks() {
					if sub != "preview" || !slices.Equal(stacks, []string{"staging"}) {
						p.add("%s: the pull-request role previews staging only, not stackctl %s %v", where, sub, stacks)
					}
				}
			case "${{ vars.AWS_ROLE_ARN }}":
				if !slices.Contains(environments, env) {
					p.add("%s: assumes vars.AWS_ROLE_ARN without one of the environments %v", where, environments)
				}
				for sub, stacks := range j.stacks() {
					for _, stack := range stacks {
						if msg := fits(env, sub, stack); msg != "" {
							p.add("%s: %s", where, msg)
						}
					}
					if env != "review" && (sub == "review" || sub == "reap" || sub == "destroy") {
						p.add("%s: stackctl %s belongs in the review environment, not %q", where, sub, env)
					}
				}
			default:
				p.add("%s: role %q is neither its environment's vars.AWS_ROLE_ARN nor the pull-request preview role", where, role)
			}
		}
	}
	return p
}

// fits says what is wrong with running stackctl sub on stack in environment env, or "".
func fits(env, sub, stack string) string {
	switch {
	case env == "staging" && stack == "staging", env == "production" && stack == "production":
		return ""
	case env == "production-preview" && stack == "production" && (sub == "preview" || sub == "outputs"):
		return ""
	case env == "production-preview" && stack == "production":
		return "production-preview is read-only: stackctl " + sub + " -stack production belongs in production" +
			" (and a drift check in production-drift)"
	case env == "production-drift" && stack == "production" && sub == "drift":
		return ""
	case env == "production-drift":
		return "production-drift runs only stackctl drift -stack production, not stackctl " + sub + " -stack " + stack
	case env == "review" && strings.HasPrefix(stack, "pr-"):
		return ""
	}
	return "stackctl " + sub + " -stack " + stack + " does not belong in environment " + env
}

// checkPullRequestsStayOffProduction: no pull_request_target (actionlint accepts it), and no pull request job with
// cloud credentials near production.
func checkPullRequestsStayOffProduction(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		if w.on("pull_request_target") {
			p.add("%s: pull_request_target runs pull request code with the base repository's secrets", w.path)
		}
		if !w.on("pull_request") {
			continue
		}
		for _, j := range w.jobs() {
			if j.Permissions["id-token"] != "write" {
				continue
			}
			if strings.Contains(j.text, "production") {
				p.add("%s/%s: runs with cloud credentials on a pull request and mentions production", w.path, j.name)
			}
			if strings.HasPrefix(j.Environment.Name, "production") {
				p.add("%s/%s: a pull request job in environment %s", w.path, j.name, j.Environment.Name)
			}
		}
	}
	return p
}

var outFlag = regexp.MustCompile(`-(?:out|outputs|to) "?([^"\s]+)"?`)

func outFile(cmd string) string {
	if m := outFlag.FindStringSubmatch(cmd); m != nil {
		return m[1]
	}
	return ""
}

// notifyStep is the job's bin/notify step.
func notifyStep(j *job) (int, step, bool) { return stepWith(j, runs("bin/notify ")) }

func checkProductionPreview(ws map[string]*workflow) (p problems) {
	d, ok := ws["deploy.yml"]
	if !ok {
		p.add("no deploy.yml")
		return p
	}
	pp, prod := d.Jobs["production-preview"], d.Jobs["production"]
	if pp == nil {
		p.add("deploy.yml: no production-preview job: approvers would approve without seeing production's preview")
		return p
	}
	if pp.Environment.Name != "production-preview" {
		p.add("deploy.yml/production-preview: environment %q, not production-preview", pp.Environment.Name)
	}
	if !slices.Contains(pp.Needs, "staging") {
		p.add("deploy.yml/production-preview: does not wait for staging to succeed")
	}
	_, previewStep, ok := stepWith(pp, runs("stackctl preview -stack production"))
	if !ok {
		p.add("deploy.yml/production-preview: does not run stackctl preview -stack production")
	}
	out := outFile(previewStep.Run)
	if _, n, ok := notifyStep(pp); !ok || out == "" || !strings.Contains(n.Run, "-section") ||
		!strings.Contains(n.Run, out) || n.If != "always()" {
		p.add("deploy.yml/production-preview: the preview (%q) is not put in the job summary by an always() notify step", out)
	}
	if prod == nil || prod.Environment.Name != "production" || !slices.Contains(prod.Needs, "production-preview") {
		p.add("deploy.yml/production: must run in the production environment (its approval) after production-preview")
	}
	return p
}

func checkPreviewComment(ws map[string]*workflow) (p problems) {
	if pr, ok := ws["preview.yml"]; ok && strings.Contains(pr.raw, "pr-number") {
		p.add("preview.yml: writes a pr-number file; the comment workflow must not learn the pull request from an artifact")
	}
	pc, ok := ws["preview-comment.yml"]
	if !ok {
		p.add("no preview-comment.yml")
		return p
	}
	if strings.Contains(pc.raw, "pr-number") {
		p.add("preview-comment.yml: reads a pr-number from the artifact a fork's workflow wrote")
	}
	j := pc.Jobs["comment"]
	if j == nil {
		p.add("preview-comment.yml: no comment job")
		return p
	}
	for _, want := range []string{"github.event.workflow_run.event == 'pull_request'",
		"github.event.workflow_run.conclusion != 'cancelled'"} {
		if !strings.Contains(j.If, want) {
			p.add("preview-comment.yml/comment: if: lacks %s (a cancelled run was superseded)", want)
		}
	}
	for _, want := range []string{"github.event.workflow_run.head_repository.full_name", "github.event.workflow_run.head_branch"} {
		if !strings.Contains(j.Concurrency.Group, want) {
			p.add("preview-comment.yml/comment: concurrency group %q is not one per pull request (%s)", j.Concurrency.Group, want)
		}
	}
	if j.Permissions["id-token"] != "" || j.Permissions["contents"] != "read" || len(j.Permissions) != 3 ||
		j.Permissions["pull-requests"] != "write" || j.Permissions["actions"] != "read" {
		p.add("preview-comment.yml/comment: permissions %v, want contents: read, actions: read, pull-requests: write", j.Permissions)
	}
	for _, s := range j.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "actions/checkout@"):
			if s.With["ref"] != "" || s.With["repository"] != "" {
				p.add("preview-comment.yml/comment: checks out %q %q; only the default branch's code runs here",
					s.With["repository"], s.With["ref"])
			}
		case strings.HasPrefix(s.Uses, "actions/download-artifact@"):
			if !strings.HasPrefix(s.With["path"], "${{ runner.temp }}/") {
				p.add("preview-comment.yml/comment: artifacts go to %q, not under runner.temp", s.With["path"])
			}
		}
	}
	_, s, ok := stepWith(j, runs("stackctl comment"))
	want := map[string]string{
		"HEAD_SHA":    "${{ github.event.workflow_run.head_sha }}",
		"HEAD_REPO":   "${{ github.event.workflow_run.head_repository.full_name }}",
		"HEAD_BRANCH": "${{ github.event.workflow_run.head_branch }}",
	}
	cmd := strings.Join(strings.Fields(strings.ReplaceAll(s.Run, "\\\n", " ")), " ")
	switch {
	case !ok:
		p.add("preview-comment.yml/comment: no stackctl comment step")
	case !strings.Contains(cmd, `stackctl comment -previews "$RUNNER_TEMP/`) ||
		!strings.Contains(cmd, `-head-sha "$HEAD_SHA" -head-repo "$HEAD_REPO" -head-branch "$HEAD_BRANCH"`) ||
		strings.Contains(cmd, "-pr "):
		p.add("preview-comment.yml/comment: %q does not derive the pull request from the run's -head-sha, -head-repo and -head-branch", cmd)
	}
	for k, v := range want {
		if s.Env[k] != v {
			p.add("preview-comment.yml/comment: env %s is %q, want %s", k, s.Env[k], v)
		}
	}
	return p
}

// discarded matches a command whose failure is ignored: `|| true`, `|| :` or `|| exit 0`.
var discarded = regexp.MustCompile(`\|\|\s*(true|:|exit\s+0)\s*(;|$)`)

// checkPreviewDiffGates keeps the offline preview's -diff a gate: it exits 4 when a change deletes or replaces
// production data, which must fail the job, and only a pull request label (set by triage access or more, never
// by a fork's author through the title or body) may accept it. The job keeps its files whatever the outcome, so
// the comment is posted for a failed job too.
func checkPreviewDiffGates(ws map[string]*workflow) (p problems) {
	for file, w := range ws {
		for name, j := range w.Jobs {
			diffs := false
			for _, s := range j.Steps {
				if !strings.Contains(s.Run, "cmd/preview") || !strings.Contains(s.Run, "-diff") {
					continue
				}
				diffs = true
				for _, line := range strings.Split(s.Run, "\n") {
					line = strings.TrimSpace(line)
					if strings.Contains(line, "-diff") && discarded.MatchString(line) {
						p.add("%s/%s: %q discards the diff's exit status: exit 4 (production data deleted or "+
							"replaced) must fail the job", file, name, line)
					}
				}
				for k, v := range s.Env {
					if strings.Contains(v, "github.event.pull_request") &&
						!strings.Contains(v, "github.event.pull_request.labels.*.name") {
						p.add("%s/%s: env %s comes from %s, which the pull request's author sets; only a label "+
							"may accept a production data change", file, name, k, v)
					}
				}
			}
			if !diffs {
				continue
			}
			if _, s, ok := stepWith(j, func(s step) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") }); !ok ||
				!strings.Contains(s.If, "always()") {
				p.add("%s/%s: the preview files are not kept with if: always(), so a failed gate posts no comment",
					file, name)
			}
		}
	}
	return p
}

func checkDeployGate(ws map[string]*workflow) (p problems) {
	if ci, ok := ws["ci.yml"]; !ok || ci.Name != "ci" {
		p.add("ci.yml: deploy.yml follows the workflow named ci")
	}
	d, ok := ws["deploy.yml"]
	if !ok {
		p.add("no deploy.yml")
		return p
	}
	for event, n := range d.triggers() {
		switch event {
		case "workflow_dispatch":
		case "workflow_run":
			var wr struct{ Workflows, Types, Branches []string }
			if err := n.Decode(&wr); err != nil || !slices.Equal(wr.Workflows, []string{"ci"}) ||
				!slices.Equal(wr.Types, []string{"completed"}) || !slices.Equal(wr.Branches, []string{"main"}) {
				p.add("deploy.yml: workflow_run must be {workflows: [ci], types: [completed], branches: [main]}")
			}
		default:
			p.add("deploy.yml: runs on %s; it runs only after ci succeeded on main, or by hand from main", event)
		}
	}
	gate := d.Jobs["gate"]
	if gate == nil {
		p.add("deploy.yml: no gate job")
		return p
	}
	if !strings.Contains(gate.If, "github.event.workflow_run.event == 'push'") {
		p.add("deploy.yml/gate: if: must skip ci runs of pull requests (a fork's branch may be named main)")
	}
	if gate.Outputs["sha"] != "${{ steps.gate.outputs.sha }}" {
		p.add("deploy.yml/gate: outputs.sha must be the gate step's sha")
	}
	// The ref's name proves nothing (a tag may be named main, any workflow named ci starts deploy): the gate is
	// deploygate's, on GitHub's records, reading the event's payload itself.
	if _, s, ok := stepWith(gate, func(s step) bool { return s.ID == "gate" }); !ok {
		p.add("deploy.yml/gate: no step with id gate")
	} else {
		if !strings.Contains(s.Run, "bin/deploygate admit") || strings.Contains(s.Run, "head_branch") ||
			strings.Contains(s.Run, "RUN_BRANCH") {
			p.add("deploy.yml/gate: the gate step must run bin/deploygate admit, not decide by the branch's name")
		}
		if len(s.Env) != 1 || s.Env["GITHUB_TOKEN"] != "${{ github.token }}" {
			p.add("deploy.yml/gate: the gate step's env must be GITHUB_TOKEN: ${{ github.token }} only, not %v", s.Env)
		}
	}
	if gate.Permissions["actions"] != "read" || gate.Permissions["contents"] != "read" || gate.Environment.Name != "" {
		p.add("deploy.yml/gate: needs contents: read and actions: read, in no environment")
	}
	// Every deploying job starts, in every attempt, with main's own deploygate current: an approval that comes
	// after main moved on, or a re-run replaying an old run's gate output, deploys nothing. The check is built
	// from refs/heads/main before the commit being deployed is checked out, so that commit cannot vouch for itself.
	checked := map[string]int{} // job → index of its deploygate current step
	for _, env := range []string{"staging", "production-preview", "production"} {
		j := d.Jobs[env]
		if j == nil {
			p.add("deploy.yml: no %s job", env)
			continue
		}
		iCurrent, current, ok := stepWith(j, runs("bin/deploygate current "))
		iRole, _, _ := stepWith(j, func(s step) bool { return strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") })
		iSHA, _, _ := stepWith(j, func(s step) bool {
			return strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["ref"] == "${{ needs.gate.outputs.sha }}"
		})
		switch {
		case !ok:
			p.add("deploy.yml/%s: does not start with bin/deploygate current: an older run's approval or a re-run "+
				"deploys a commit that is no longer main's head", env)
		case iRole >= 0 && iCurrent > iRole,
			!strings.Contains(current.Run, `bin/deploygate current -sha "$DEPLOY_SHA" -environment `+env),
			current.Env["DEPLOY_SHA"] != "${{ needs.gate.outputs.sha }}", current.Env["GITHUB_TOKEN"] != "${{ github.token }}",
			current.If != "":
			p.add("deploy.yml/%s: bin/deploygate current -sha \"$DEPLOY_SHA\" -environment %s must check the gate's "+
				"commit, always, before the role is assumed", env, env)
		case iCurrent < 2 || !strings.HasPrefix(j.Steps[0].Uses, "actions/checkout@") ||
			j.Steps[0].With["ref"] != "refs/heads/main" || j.Steps[1].Uses != "./.github/actions/setup" ||
			(iSHA >= 0 && iSHA < iCurrent):
			p.add("deploy.yml/%s: bin/deploygate current must be built from a checkout of refs/heads/main before the "+
				"commit being deployed is checked out, not from that commit", env)
		default:
			checked[env] = iCurrent
		}
	}
	for _, j := range d.jobs() {
		if j.name == "gate" {
			continue
		}
		if !slices.Contains(j.Needs, "gate") {
			p.add("deploy.yml/%s: does not need gate", j.name)
		}
		for i, s := range j.Steps {
			// gate-refused only reports, with the default branch's notify.
			if j.name == "gate-refused" && s.With["ref"] == "" {
				continue
			}
			// main's code, for deploygate current only.
			if iCurrent, ok := checked[j.name]; ok && i < iCurrent && s.With["ref"] == "refs/heads/main" {
				continue
			}
			if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["ref"] != "${{ needs.gate.outputs.sha }}" {
				p.add("deploy.yml/%s: checks out %q, not the commit the gate passed", j.name, s.With["ref"])
			}
		}
	}
	return p
}

// deployJobs are the jobs that run stackctl up on a named stack, with that stack.
func deployJobs(w *workflow) map[*job]string {
	out := map[*job]string{}
	for _, j := range w.jobs() {
		if stacks := j.stacks()["up"]; len(stacks) == 1 {
			out[j] = stacks[0]
		}
	}
	return out
}

var outputsCmd = regexp.MustCompile(`stackctl outputs -stack (\S+) -out "?([^"\s]+)"?`)

func checkRollback(ws map[string]*workflow) (p problems) {
	d, ok := ws["deploy.yml"]
	if !ok {
		p.add("no deploy.yml")
		return p
	}
	jobs := deployJobs(d)
	if len(jobs) != 2 {
		p.add("deploy.yml: %d jobs run stackctl up, want staging and production", len(jobs))
	}
	for _, j := range d.jobs() {
		stack, ok := jobs[j]
		if !ok {
			continue
		}
		where := "deploy.yml/" + j.name
		iUp, _, _ := stepWith(j, runs("stackctl up -stack "+stack))
		iOut, before, ok := stepWith(j, runs("stackctl outputs -stack "+stack))
		m := outputsCmd.FindStringSubmatch(strings.ReplaceAll(before.Run, "\\\n", " "))
		if !ok || iOut > iUp || m == nil {
			p.add("%s: no stackctl outputs before the up: nothing records the digests a rollback returns to", where)
			continue
		}
		iSmoke, smoke, ok := stepWith(j, func(s step) bool { return s.ID == "smoke" })
		if !ok || iSmoke < iUp || !strings.Contains(smoke.Run, "bin/smoke ") {
			p.add("%s: no smoke step (id smoke, bin/smoke) after the up", where)
			continue
		}
		iRoll, roll, ok := stepWith(j, runs("stackctl rollback -stack "+stack+` -to "`+m[2]+`"`))
		if !ok || iRoll < iSmoke || !strings.Contains(roll.If, "failure()") ||
			!strings.Contains(roll.If, "steps.smoke.outcome == 'failure'") {
			p.add("%s: a failed smoke test must run stackctl rollback -stack %s -to %q, automatically", where, stack, m[2])
		}
	}
	return p
}

func checkNotifications(ws map[string]*workflow) (p problems) {
	for _, name := range []string{"deploy.yml", "drift.yml", "reap.yml", "review-stack.yml"} {
		w, ok := ws[name]
		if !ok {
			p.add("no %s", name)
			continue
		}
		for _, j := range w.jobs() {
			where := name + "/" + j.name
			if name == "deploy.yml" && j.name == "gate" {
				if g := w.Jobs["gate-refused"]; g == nil || !slices.Contains(g.Needs, "gate") || g.If != "failure()" {
					p.add("deploy.yml/gate: no gate-refused job (needs: gate, if: failure()) tells the team nothing was deployed")
				}
				if _, _, ok := notifyStep(j); ok {
					p.add("deploy.yml/gate: the gate runs in no environment, so it has no webhook; gate-refused notifies")
				}
				continue
			}
			if name == "drift.yml" && j.name == "production-commit" {
				if _, n, ok := notifyStep(j); !ok || n.If != "failure()" {
					p.add("drift.yml/production-commit: a production check that cannot start must notify (if: failure())")
				}
				continue
			}
			i, n, ok := notifyStep(j)
			if !ok {
				p.add("%s: no notify step", where)
				continue
			}
			if n.Env["SLACK_WEBHOOK_URL"] != "${{ secrets.SLACK_WEBHOOK_URL }}" {
				p.add("%s: the webhook comes from the secret SLACK_WEBHOOK_URL", where)
			}
			if i != len(j.Steps)-1 {
				p.add("%s: notify is not the last step, so it does not report the job's end", where)
			}
			if name == "deploy.yml" && j.name == "gate-refused" {
				if j.Environment.Name == "" || !strings.Contains(n.Run, "-status failure") {
					p.add("%s: must report the failure from an environment (its webhook)", where)
				}
				continue
			}
			if n.If != "always()" {
				p.add("%s: notify must run whatever happened (if: always()), not %q", where, n.If)
			}
			status := n.Env["JOB_STATUS"] == "${{ job.status }}" && strings.Contains(n.Run, `-status "$JOB_STATUS"`) ||
				n.Env["RESULT"] == "${{ steps.drift.outputs.result || 'error' }}" && strings.Contains(n.Run, `-status "$RESULT"`)
			if !status {
				p.add("%s: notify does not report the job's status", where)
			}
			if name == "deploy.yml" && strings.Contains(n.Run, "-chat never") {
				p.add("%s: a deploy reaches the chat", where)
			}
		}
		for j, stack := range deployJobs(w) {
			_, up, _ := stepWith(j, runs("stackctl up -stack "+stack))
			_, n, _ := notifyStep(j)
			log := regexp.MustCompile(`tee "?([^"\s]+)"?`).FindStringSubmatch(up.Run)
			outputs := outFile(up.Run[strings.Index(up.Run, "-outputs"):])
			if log == nil || !strings.Contains(n.Run, `-boot-timeline "`+log[1]+`"`) {
				p.add("%s/%s: the summary lacks the boot timeline from the up's log", name, j.name)
			}
			if outputs == "" || !strings.Contains(n.Run, `Outputs?=`+outputs) {
				p.add("%s/%s: the summary lacks the outputs", name, j.name)
			}
		}
	}
	return p
}

func checkEnvironmentURLs(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			st := j.stacks()
			_, up := st["up"]
			_, review := st["review"]
			if !up && !review || j.Environment.Name == "" {
				continue
			}
			_, s, ok := stepWith(j, func(s step) bool { return s.ID == "url" })
			if j.Environment.URL != "${{ steps.url.outputs.url }}" || !ok || !strings.Contains(s.Run, "serviceUrls") {
				p.add("%s/%s: environment %s has no url from the deploy's serviceUrls", w.path, j.name, j.Environment.Name)
			}
		}
	}
	return p
}

func checkDrift(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			_, deploys := j.stacks()["up"]
			g := j.Concurrency.Group
			if !deploys && (g == "pulumi-staging" || g == "pulumi-production") {
				p.add("%s/%s: shares the deploy's concurrency group %s; a queued job there cancels a waiting deploy", w.path, j.name, g)
			}
		}
	}
	d, ok := ws["drift.yml"]
	if !ok {
		p.add("no drift.yml: nothing looks for drift")
		return p
	}
	if !d.on("schedule") {
		p.add("drift.yml: not scheduled")
	}
	want := map[string]string{"staging": "staging", "production": "production-drift"}
	for stack, env := range want {
		found := false
		for _, j := range d.jobs() {
			if !slices.Equal(j.stacks()["drift"], []string{stack}) {
				continue
			}
			found = true
			if j.Environment.Name != env {
				p.add("drift.yml/%s: checks %s in environment %q, want %s", j.name, stack, j.Environment.Name, env)
			}
			if _, n, ok := notifyStep(j); !ok || !strings.Contains(n.Run, "-chat failure") {
				p.add("drift.yml/%s: drift and errors must reach the chat (-chat failure)", j.name)
			}
		}
		if !found {
			p.add("drift.yml: no job runs stackctl drift -stack %s", stack)
		}
	}
	// Production's secrets are read only by code production's approvers let through: the commit production runs.
	// deploygate running finds deploy.yml's production job by its name, which is its id when it has no name.
	if dp := ws["deploy.yml"]; dp == nil || dp.Jobs["production"] == nil ||
		(dp.Jobs["production"].Name != "" && dp.Jobs["production"].Name != "production") {
		p.add("deploy.yml: no job named production, which deploygate running reads what production runs from")
	}
	pc, prod := d.Jobs["production-commit"], d.Jobs["production"]
	running, ok := step{}, false
	if pc != nil {
		_, running, ok = stepWith(pc, runs("bin/deploygate running -environment production"))
	}
	switch {
	case !ok || running.ID == "" || pc.Outputs["sha"] != "${{ steps."+running.ID+".outputs.sha }}":
		p.add("drift.yml: no production-commit job whose output sha is bin/deploygate running -environment production")
	case pc.Permissions["actions"] != "read" || pc.Permissions["deployments"] != "" || pc.Permissions["id-token"] != "":
		p.add("drift.yml/production-commit: reads deploy.yml's runs (actions: read), not deployment records " +
			"(any writer can forge those), with no cloud credentials")
	case prod == nil || !slices.Contains(prod.Needs, "production-commit"):
		p.add("drift.yml/production: does not need production-commit")
	default:
		for _, s := range prod.Steps {
			if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["ref"] != "${{ needs.production-commit.outputs.sha }}" {
				p.add("drift.yml/production: checks out %q, not the commit production runs", s.With["ref"])
			}
		}
	}
	return p
}

// checkWebhookInEnvironments: the chat webhook is an environment secret, so a workflow on any branch cannot read
// it; a job that reads it names its environment.
func checkWebhookInEnvironments(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			if strings.Contains(j.text, "secrets.SLACK_WEBHOOK_URL") && j.Environment.Name == "" {
				p.add("%s/%s: reads secrets.SLACK_WEBHOOK_URL in no environment: it would be a repository secret "+
					"every branch's workflow reads", w.path, j.name)
			}
		}
	}
	return p
}

var (
	makeVar   = regexp.MustCompile(`\$\{?([A-Z_][A-Z0-9_]*)\}?`)
	checkLine = regexp.MustCompile(`(?m)^\s*check \S+ "\$([A-Z_][A-Z0-9_]*)" '\^[^']*\$'$`)
)

// checkMakeFlags: make runs its recipe through a shell that splits and expands the variables it is given
// (E2E_FLAGS reaches `go run ./cmd/e2e $(E2E_FLAGS)` unquoted), so every value in them is checked against an
// anchored pattern first (the check function of e2e.yml).
func checkMakeFlags(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			for _, s := range j.Steps {
				run := strings.ReplaceAll(s.Run, "\\\n", " ")
				i := strings.Index(run, "E2E_FLAGS=")
				if i < 0 {
					continue
				}
				checked := map[string]bool{}
				for _, m := range checkLine.FindAllStringSubmatch(run[:i], -1) {
					checked[m[1]] = true
				}
				if !strings.Contains(run[:i], `if ! [[ "$2" =~ $3 ]]`) {
					checked = map[string]bool{}
				}
				for _, m := range makeVar.FindAllStringSubmatch(run[i:], -1) {
					if !checked[m[1]] {
						p.add("%s/%s: $%s reaches make's shell unchecked", w.path, j.name, m[1])
					}
				}
			}
		}
	}
	return p
}

var pulumiVersion = regexp.MustCompile(`(?i)pulumi-version|pulumi_version|get\.pulumi\.com|pulumi[^\n]*\bv?\d+\.\d+\.\d+\b`)

// checkNoPulumiVersion: stackctl pins the Pulumi CLI in one place; a workflow that names a version is a second.
func checkNoPulumiVersion(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, line := range strings.Split(w.raw, "\n") {
			if pulumiVersion.MatchString(line) {
				p.add("%s: names a Pulumi version: %s", w.path, strings.TrimSpace(line))
			}
		}
	}
	ci, ok := ws["ci.yml"]
	if !ok {
		p.add("no ci.yml")
		return p
	}
	installs := false
	for _, j := range ci.jobs() {
		if _, s, ok := stepWith(j, runs("stackctl install-cli")); ok &&
			strings.Contains(s.Run, `APPSTACK_PULUMI_ROOT=$root" >> "$GITHUB_ENV"`) {
			installs = true
		}
	}
	if !installs {
		p.add("ci.yml: the engine test's CLI must come from stackctl install-cli, exported as APPSTACK_PULUMI_ROOT")
	}
	return p
}

var reviewCmd = regexp.MustCompile(`stackctl (review|reap|destroy) -`)

func checkReviewStacks(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			for _, s := range j.Steps {
				cmd := strings.ReplaceAll(s.Run, "\\\n", " ")
				if !reviewCmd.MatchString(cmd) {
					continue
				}
				where := w.path + "/" + j.name
				if j.Environment.Name != "review" {
					p.add("%s: review stacks are managed from the review environment, not %q", where, j.Environment.Name)
				}
				if !strings.Contains(cmd, `-secrets-provider "$SECRETS_PROVIDER"`) ||
					s.Env["SECRETS_PROVIDER"] != "${{ vars.PULUMI_SECRETS_PROVIDER }}" {
					p.add("%s: -secrets-provider must be the review environment's vars.PULUMI_SECRETS_PROVIDER, through env", where)
				}
				if strings.Contains(cmd, "|| true") || strings.Contains(cmd, "continue-on-error") {
					p.add("%s: a reap that cannot read a stack must fail the job", where)
				}
			}
		}
	}
	return p
}

func checkSerialised(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			st := j.stacks()
			changes := false
			for _, sub := range []string{"up", "review", "reap", "destroy", "rollback"} {
				_, ok := st[sub]
				changes = changes || ok
			}
			if !changes {
				continue
			}
			c := j.Concurrency
			if c.Group == "" {
				c = w.Concurrency
			}
			if !strings.HasPrefix(c.Group, "pulumi-") || c.CancelInProgress != false {
				p.add("%s/%s: changes a stack outside a pulumi-* concurrency group with cancel-in-progress: false", w.path, j.name)
			}
			if stacks := st["up"]; len(stacks) == 1 && !strings.HasPrefix(stacks[0], "$") && c.Group != "pulumi-"+stacks[0] {
				p.add("%s/%s: deploys %s in group %q, not pulumi-%s", w.path, j.name, stacks[0], c.Group, stacks[0])
			}
		}
	}
	return p
}

// checkPermissions: contents: read by default, more only where a job needs it. actionlint checks that scopes and
// levels exist, not how much a workflow or job asks for.
func checkPermissions(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		if w.Jobs == nil {
			continue // the composite action has no permissions of its own
		}
		if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" {
			p.add("%s: the workflow default must be contents: read only; jobs ask for more", w.path)
		}
		for _, j := range w.jobs() {
			_, aws := j.assumesRole()
			if aws != (j.Permissions["id-token"] == "write") {
				p.add("%s/%s: id-token: write exactly where a role is assumed through OIDC", w.path, j.name)
			}
			for perm, level := range j.Permissions {
				if level == "write" && perm != "id-token" && perm != "pull-requests" {
					p.add("%s/%s: %s: write", w.path, j.name, perm)
				}
			}
			if j.Permissions["pull-requests"] == "write" && !strings.Contains(j.script(), "stackctl comment") {
				p.add("%s/%s: pull-requests: write without a comment to write", w.path, j.name)
			}
		}
	}
	return p
}

// checkNoKeys: no workflow reads a long-lived key. actionlint reports only a container's or a service's
// hard-coded password.
func checkNoKeys(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, forbidden := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws-access-key-id",
			"SSH_PRIVATE_KEY", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN"} {
			if strings.Contains(w.raw, forbidden) {
				p.add("%s: %s: no long-lived keys; roles come through OIDC", w.path, forbidden)
			}
		}
	}
	return p
}

// settings are the repository variables and secrets the README tells a maintainer to set, and
// environmentSettings the variables each environment holds.
var (
	settings            = []string{"vars.AWS_REGION", "vars.PULUMI_BACKEND_URL", "vars.AWS_PREVIEW_ROLE_ARN"}
	environmentSettings = map[string][]string{
		"review":             {"vars.AWS_ROLE_ARN", "vars.PULUMI_SECRETS_PROVIDER", "secrets.SLACK_WEBHOOK_URL"},
		"staging":            {"vars.AWS_ROLE_ARN", "secrets.SLACK_WEBHOOK_URL"},
		"production-preview": {"vars.AWS_ROLE_ARN", "secrets.SLACK_WEBHOOK_URL"},
		"production":         {"vars.AWS_ROLE_ARN", "secrets.SLACK_WEBHOOK_URL"},
		"production-drift":   {"vars.AWS_ROLE_ARN", "secrets.SLACK_WEBHOOK_URL"},
	}
	setting = regexp.MustCompile(`\b(?:vars|secrets)\.[A-Za-z_][A-Za-z0-9_]*`)
)

// checkSettings: every variable or secret a job reads is one the README lists, and an environment's variable is
// read only by jobs in that environment (elsewhere it would be empty, or another environment's).
func checkSettings(ws map[string]*workflow) (p problems) {
	for _, w := range sorted(ws) {
		for _, j := range w.jobs() {
			for _, name := range setting.FindAllString(j.text, -1) {
				if slices.Contains(settings, name) || slices.Contains(environmentSettings[j.Environment.Name], name) {
					continue
				}
				p.add("%s/%s: %s is not a documented repository setting nor a variable of environment %q",
					w.path, j.name, name, j.Environment.Name)
			}
		}
	}
	return p
}
