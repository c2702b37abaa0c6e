package workflows

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/project"
)

// actionlintBinary builds the actionlint that `make lint` runs, at the version tools/go.mod pins, into dir
// (seconds with a warm build cache: make lint has built it before the tests run).
func actionlintBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "actionlint")
	cmd := exec.Command("go", "build", "-modfile=tools/go.mod", "-o", bin, "github.com/rhysd/actionlint/cmd/actionlint")
	cmd.Dir = project.Root()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building actionlint from tools/go.mod: %s", out)
	return bin
}

// actionlint runs the pinned actionlint on one workflow file and returns the messages it reports, with their
// kind ("[expression]"). Shellcheck is off: each case is about one of actionlint's own checks.
func actionlint(t *testing.T, bin, yml string) []string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "w.yml")
	require.NoError(t, os.WriteFile(file, []byte(yml), 0o600))
	cmd := exec.Command(bin, "-shellcheck=", "-pyflakes=", "-format", "{{json .}}", file)
	cmd.Dir = dir
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) { // 1: problems found
		require.NoError(t, err, "actionlint: %s", out)
	}
	var found []struct{ Message, Kind string }
	require.NoError(t, json.Unmarshal(out, &found), "actionlint's JSON: %s", out)
	var msgs []string
	for _, f := range found {
		msgs = append(msgs, f.Message+" ["+f.Kind+"]")
	}
	return msgs
}

// TestActionlintCoversOnlyPartOfTheGenericRules runs the pinned actionlint and our rule on the same bad workflow
// for each generic rule rules_test.go keeps. Where actionlint reports the mistake too, the case says what it
// says; where it reports nothing, that is the part of the rule actionlint misses and the reason the rule stays.
// When an actionlint upgrade starts reporting a mistake listed as missed, this test fails: then the rule, or its
// part, goes, and actionlint's finding is asserted here instead.
func TestActionlintCoversOnlyPartOfTheGenericRules(t *testing.T) {
	const job = `
jobs:
  a:
    runs-on: ubuntu-latest
    permissions: {contents: read}
    steps:
`
	bin := actionlintBinary(t, t.TempDir())
	const head = "permissions: {contents: read}\ndefaults: {run: {shell: bash}}\n"
	for _, tc := range []struct {
		name   string
		check  func(map[string]*workflow) problems
		yml    string
		ours   string
		linter string // what actionlint reports, "" when it reports nothing
	}{
		{"an untrusted pull request field in a script: both", checkNoExpressionsInScripts,
			"on: pull_request\n" + head + job + `      - run: echo "${{ github.event.pull_request.title }}"`,
			"expands ${{ github.event.pull_request.title }} inside its script",
			`"github.event.pull_request.title" is potentially untrusted`},
		{"a fork's branch name from workflow_run in a script: ours only", checkNoExpressionsInScripts,
			"on: {workflow_run: {workflows: [ci], types: [completed]}}\n" + head + job +
				`      - run: echo "${{ github.event.workflow_run.head_branch }}"`,
			"expands ${{ github.event.workflow_run.head_branch }}", ""},
		{"a variable's value in a script: ours only", checkNoExpressionsInScripts,
			"on: push\n" + head + job + `      - run: bin/stackctl review -secrets-provider ${{ vars.PULUMI_SECRETS_PROVIDER }}`,
			"expands ${{ vars.PULUMI_SECRETS_PROVIDER }}", ""},
		{"a dispatch input in a script: ours only", checkNoExpressionsInScripts,
			"on: {workflow_dispatch: {inputs: {region: {type: string}}}}\n" + head + job +
				`      - run: make e2e E2E_FLAGS="-region ${{ inputs.region }}"`,
			"expands ${{ inputs.region }}", ""},
		{"an action by a tag on a retired runtime: both", checkPins,
			"on: push\n" + head + job + "      - uses: actions/checkout@v3",
			"actions/checkout@v3 is not pinned to a full commit SHA", `"actions/checkout@v3" action is too old`},
		{"an action by a movable tag: ours only", checkPins,
			"on: push\n" + head + job + "      - uses: actions/checkout@v5",
			"actions/checkout@v5 is not pinned to a full commit SHA", ""},
		{"a commit on the deprecated Node 20: ours only", checkPins,
			"on: push\n" + head + job + "      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2\n" +
				"        with: {name: x, path: x}",
			"v4.6.2 runs on node20", ""},
		{"a commit whose version comment is wrong: ours only", checkPins,
			"on: push\n" + head + job + "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.0",
			"is v7.0.1, not v7.0.0 as its comment says", ""},
		{"no bash default (no pipefail): ours only", checkShell,
			"on: push\npermissions: {contents: read}\n" + job + "      - run: bin/stackctl up -stack staging | tee up.log",
			"defaults.run.shell", ""},
		{"a write default for every job: ours only", checkPermissions,
			"on: push\npermissions: {contents: write, actions: write}\ndefaults: {run: {shell: bash}}\n" + job + "      - run: echo",
			"the workflow default must be contents: read", ""},
		{"a job that may push: ours only", checkPermissions,
			"on: push\n" + head + `
jobs:
  a:
    runs-on: ubuntu-latest
    permissions: {contents: write}
    steps:
      - run: echo`,
			"x.yml/a: contents: write", ""},
		{"a long-lived cloud key: ours only", checkNoKeys,
			"on: push\n" + head + job + "      - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3\n" +
				"        with: {aws-region: eu-west-1, aws-access-key-id: \"${{ secrets.KEY }}\"}",
			"aws-access-key-id: no long-lived keys", ""},
		{"pull_request_target: ours only", checkPullRequestsStayOffProduction,
			"on: pull_request_target\n" + head + job + "      - run: echo",
			"pull_request_target runs pull request code", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := parse("x.yml", tc.yml)
			require.NoError(t, err)
			assert.Contains(t, strings.Join(tc.check(map[string]*workflow{"x.yml": w}), "\n"), tc.ours, "our rule")
			found := actionlint(t, bin, tc.yml)
			if tc.linter == "" {
				assert.Empty(t, found, "actionlint now reports this: hand the rule (or this part) over to it")
			} else {
				assert.Contains(t, strings.Join(found, "\n"), tc.linter, "actionlint")
			}
		})
	}
}
