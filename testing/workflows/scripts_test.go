package workflows

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/project"
)

// stepScript returns the run: script of the step with id in job of the committed workflow file.
func stepScript(t *testing.T, file, jobName, id string) step {
	t.Helper()
	w := load(t)[file]
	require.NotNil(t, w.Jobs[jobName], "%s/%s", file, jobName)
	_, s, ok := stepWith(w.Jobs[jobName], func(s step) bool { return s.ID == id })
	require.True(t, ok, "%s/%s: no step with id %s", file, jobName, id)
	return s
}

type stepRun struct {
	code    int
	outputs map[string]string
	log     string
	temp    string // RUNNER_TEMP
}

// runStep runs a step's script the way the runner does with shell: bash (bash --noprofile --norc -eo pipefail),
// in dir, with GITHUB_OUTPUT, RUNNER_TEMP and GITHUB_WORKSPACE set, fake commands from fakes (name → script) first
// on PATH, and env.
func runStep(t *testing.T, script, dir string, fakes, env map[string]string) stepRun {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "fakebin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	for name, body := range fakes {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/usr/bin/env bash\n"+body), 0o755))
	}
	path := filepath.Join(tmp, "step.sh")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o600))
	output := filepath.Join(tmp, "output")
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", path)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "GITHUB_OUTPUT=" + output, "RUNNER_TEMP=" + tmp,
		"GITHUB_WORKSPACE=" + dir, "GITHUB_REPOSITORY=o/r", "FAKE_LOG=" + filepath.Join(tmp, "fake.log")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	r := stepRun{outputs: map[string]string{}, log: string(out), temp: tmp}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	if f, err := os.Open(output); err == nil {
		defer func() { _ = f.Close() }()
		for sc := bufio.NewScanner(f); sc.Scan(); {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				r.outputs[k] = v
			}
		}
	}
	if raw, err := os.ReadFile(filepath.Join(tmp, "fake.log")); err == nil {
		r.log += "\nfake: " + string(raw)
	}
	return r
}

const (
	mainSHA  = "0123456789abcdef0123456789abcdef01234567"
	otherSHA = "89abcdef0123456789abcdef0123456789abcdef"
)

// buildDeploygate builds cmd/deploygate (standard library only, seconds) into dir/bin, as the setup action does.
func buildDeploygate(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "deploygate"), "./cmd/deploygate")
	cmd.Dir = project.Root()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

// fakeAPI answers GitHub's REST calls for repository o/r (id 4242) from fixed JSON bodies by path: main's head is
// mainSHA, whose parent is otherSHA; tagSHA is a commit only a tag named main points to.
func fakeAPI(t *testing.T, deployments string) string {
	t.Helper()
	bodies := map[string]string{
		"/repos/o/r/git/ref/heads/main":                    `{"ref": "refs/heads/main", "object": {"type": "commit", "sha": "` + mainSHA + `"}}`,
		"/repos/o/r/actions/workflows/ci.yml":              `{"id": 101, "path": ".github/workflows/ci.yml"}`,
		"/repos/o/r/compare/" + tagSHA + "..." + mainSHA:   `{"status": "diverged", "ahead_by": 1, "behind_by": 1}`,
		"/repos/o/r/compare/" + otherSHA + "..." + mainSHA: `{"status": "ahead", "ahead_by": 1, "behind_by": 0}`,
		"/repos/o/r/compare/" + mainSHA + "..." + otherSHA: `{"status": "behind", "ahead_by": 0, "behind_by": 1}`,
		"/repos/o/r/deployments":                           deployments,
		"/repos/o/r/deployments/1/statuses":                `[{"state": "success"}]`,
		"/repos/o/r/actions/workflows/ci.yml/runs":         `{"total_count": "1; echo oops", "workflow_runs": []}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok || r.Header.Get("Authorization") != "Bearer t0ken" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const tagSHA = "fedcba9876543210fedcba9876543210fedcba98"

// workflowRunEvent is the workflow_run payload of a ci run for a push of sha under the name main.
func workflowRunEvent(t *testing.T, sha, path string) string {
	t.Helper()
	repo := `{"id": 4242, "full_name": "o/r"}`
	raw := `{"repository": ` + repo + `, "workflow_run": {"id": 9, "event": "push", "status": "completed", ` +
		`"conclusion": "success", "head_branch": "main", "head_sha": "` + sha + `", "path": "` + path + `", ` +
		`"workflow_id": 101, "head_repository": ` + repo + `, "repository": ` + repo + `}}`
	file := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(file, []byte(raw), 0o600))
	return file
}

// The committed gate step, run with the real deploygate against a fake GitHub API: what a tag named main, a
// workflow file of another name, an older commit and a dispatch without a ci run get.
func TestTheDeployGateLetsOnlyCIPassedCommitsOfMainThrough(t *testing.T) {
	s := stepScript(t, "deploy.yml", "gate", "gate")
	dir := t.TempDir()
	buildDeploygate(t, dir)
	api := fakeAPI(t, `[]`)
	env := func(kv ...string) map[string]string {
		// For workflow_run, GitHub sets GITHUB_SHA to the default branch's last commit.
		m := map[string]string{"GITHUB_API_URL": api, "GITHUB_TOKEN": "t0ken", "GITHUB_EVENT_NAME": "workflow_run",
			"GITHUB_SHA": mainSHA}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// The step's own env is GITHUB_TOKEN: ${{ github.token }}; everything else is what the runner sets.
	assert.Equal(t, map[string]string{"GITHUB_TOKEN": "${{ github.token }}"}, s.Env)

	ok := runStep(t, s.Run, dir, nil, env("GITHUB_EVENT_PATH", workflowRunEvent(t, mainSHA, ".github/workflows/ci.yml")))
	assert.Equal(t, 0, ok.code, ok.log)
	assert.Equal(t, mainSHA, ok.outputs["sha"], "exactly the commit ci tested")

	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"a commit pushed as the tag main": {env("GITHUB_EVENT_PATH", workflowRunEvent(t, tagSHA, ".github/workflows/ci.yml")),
			"is not on refs/heads/main"},
		"a workflow file named ci that is not ci.yml": {env("GITHUB_EVENT_PATH", workflowRunEvent(t, mainSHA, ".github/workflows/x.yml")),
			`workflow file ".github/workflows/x.yml"`},
		"a commit main has moved past": {env("GITHUB_EVENT_PATH", workflowRunEvent(t, otherSHA, ".github/workflows/ci.yml")),
			"is no longer main's head"},
		"a run whose GITHUB_SHA is not ci's commit": {env("GITHUB_EVENT_PATH", workflowRunEvent(t, mainSHA, ".github/workflows/ci.yml"),
			"GITHUB_SHA", otherSHA), "is not this run's GITHUB_SHA"},
		"a dispatch from a tag named main": {env("GITHUB_EVENT_NAME", "workflow_dispatch", "GITHUB_REF", "refs/tags/main",
			"GITHUB_SHA", mainSHA), "not refs/tags/main"},
		"a dispatch whose ci count is not a number": {env("GITHUB_EVENT_NAME", "workflow_dispatch", "GITHUB_REF", "refs/heads/main",
			"GITHUB_SHA", mainSHA), "not the documented JSON"},
	} {
		r := runStep(t, s.Run, dir, nil, tc.env)
		assert.Equal(t, 1, r.code, "%s: %s", name, r.log)
		assert.Empty(t, r.outputs["sha"], name)
		assert.Contains(t, r.log, "::error::", name)
		assert.Contains(t, r.outputs["why"], tc.want, "%s: the reason is kept for the notification", name)
		assert.Contains(t, r.log, "::error::"+r.outputs["why"]+"\n", name)
	}
}

// The committed current step of each deploying job, run with the real deploygate: only main's head goes, even
// over a deployment record of the older commit (a re-run replays an old run's gate output).
func TestTheDeployingJobsRefuseAnythingButMainsHead(t *testing.T) {
	dir := t.TempDir()
	buildDeploygate(t, dir)
	for _, job := range []string{"staging", "production-preview", "production"} {
		s := stepScript(t, "deploy.yml", job, "current")
		for name, tc := range map[string]struct {
			sha, deployments string
			code             int
		}{
			"main's head": {mainSHA, `[]`, 0},
			"a re-run of an older run, over a record of it": {otherSHA, `[{"id": 1, "sha": "` + otherSHA + `"}]`, 1},
			"an older commit, nothing deployed yet":         {otherSHA, `[]`, 1},
			"a commit of a tag named main":                  {tagSHA, `[]`, 1},
		} {
			env := map[string]string{"GITHUB_API_URL": fakeAPI(t, tc.deployments), "DEPLOY_SHA": tc.sha, "GITHUB_TOKEN": "t0ken"}
			r := runStep(t, s.Run, dir, nil, env)
			assert.Equal(t, tc.code, r.code, "%s, %s: %s", job, name, r.log)
		}
	}
}

func TestTheE2EStepPassesOnlyPlainValuesToMake(t *testing.T) {
	w := load(t)["e2e.yml"]
	_, s, ok := stepWith(w.Jobs["e2e"], runs("make e2e E2E_FLAGS="))
	require.True(t, ok)
	fakes := map[string]string{"make": `printf '%s\n' "$@" >> "$FAKE_LOG"` + "\n"}
	good := map[string]string{"FAIL_WITH": "pull", "REGION": "ap-southeast-1",
		"SECRETS_PROVIDER": "awskms://alias/appstack-secrets-review?region=ap-southeast-1"}
	r := runStep(t, s.Run, t.TempDir(), fakes, good)
	assert.Equal(t, 0, r.code, r.log)
	assert.Contains(t, r.log, "-fail-with pull")
	for key, bad := range map[string]string{
		"FAIL_WITH":        "pull -binary /tmp/evil",
		"REGION":           "x; touch /tmp/pwned",
		"SECRETS_PROVIDER": "awskms://a $(id)",
	} {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		env[key] = bad
		r := runStep(t, s.Run, t.TempDir(), fakes, env)
		assert.Equal(t, 1, r.code, "%s=%q: %s", key, bad, r.log)
		assert.NotContains(t, r.log, "fake: ", "%s=%q: make never ran", key, bad)
	}
}

func TestTheDriftStepReportsDriftAndErrorsAndFails(t *testing.T) {
	for _, job := range []string{"staging", "production"} {
		s := stepScript(t, "drift.yml", job, "drift")
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "stackctl"),
			[]byte("#!/usr/bin/env bash\necho \"stackctl $*\" >> \"$FAKE_LOG\"\nexit \"$FAKE_CODE\"\n"), 0o755))
		for code, want := range map[int]string{0: "success", 3: "drift", 1: "error", 2: "error"} {
			r := runStep(t, s.Run, dir, nil, map[string]string{"FAKE_CODE": string(rune('0' + code))})
			assert.Equal(t, code, r.code, "%s: stackctl drift exit %d fails the job with it: %s", job, code, r.log)
			assert.Equal(t, want, r.outputs["result"], "%s: exit %d", job, code)
			assert.Contains(t, r.log, "stackctl drift -stack "+job+" -out ")
		}
	}
}

func TestTheEnvironmentURLIsTheFirstServiceURL(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed (GitHub's ubuntu runners have it)")
	}
	for _, job := range []string{"deploy.yml/staging", "deploy.yml/production", "review-stack.yml/up"} {
		file, name, _ := strings.Cut(job, "/")
		s := stepScript(t, file, name, "url")
		for outputs, want := range map[string]string{
			`{"serviceUrls": {"web": "http://203.0.113.10:8080/", "api": "http://203.0.113.10:9090/"}}`: "http://203.0.113.10:9090/",
			`{"serviceUrls": {"web": "javascript:alert(1)"}}`:                                           "",
			`{}`: "",
			``:   "",
		} {
			dir := t.TempDir()
			r := runStep(t, "printf '%s' '"+outputs+"' > \"$RUNNER_TEMP/outputs.json\"\n"+s.Run, dir, nil, nil)
			assert.Equal(t, 0, r.code, r.log)
			assert.Equal(t, want, r.outputs["url"], "%s: %s", job, outputs)
		}
	}
}

func TestAFailedDeployIsNotHiddenByTee(t *testing.T) {
	for _, job := range []string{"staging", "production"} {
		w := load(t)["deploy.yml"]
		_, up, ok := stepWith(w.Jobs[job], runs("stackctl up -stack "))
		require.True(t, ok)
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "stackctl"),
			[]byte("#!/usr/bin/env bash\necho 'error: the readiness gate failed'\nexit 1\n"), 0o755))
		r := runStep(t, up.Run, dir, nil, nil)
		assert.Equal(t, 1, r.code, "%s: `stackctl up | tee` must fail when stackctl fails: %s", job, r.log)
	}
}

func TestTheRollbackStepRedeploysTheRecordedDigestsAndReportsItsOwnFailure(t *testing.T) {
	for _, job := range []string{"staging", "production"} {
		w := load(t)["deploy.yml"]
		_, roll, ok := stepWith(w.Jobs[job], runs("stackctl rollback -stack "+job))
		require.True(t, ok)
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
		fake := "#!/usr/bin/env bash\necho \"$(basename \"$0\") $*\" | tee -a \"$FAKE_LOG\"\n" +
			"if [ \"$(basename \"$0\") $1\" = \"$FAIL\" ]; then exit 1; fi\n"
		for _, name := range []string{"stackctl", "smoke"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", name), []byte(fake), 0o755))
		}
		r := runStep(t, roll.Run, dir, nil, nil)
		assert.Equal(t, 0, r.code, r.log)
		assert.Contains(t, r.log, "stackctl rollback -stack "+job+" -to "+r.temp+"/before.json -binary "+dir+"/bin/appstack")
		assert.Contains(t, r.log, "stackctl outputs -stack "+job+" -out "+r.temp+"/rolled-back.json")
		assert.Contains(t, r.log, "smoke -outputs "+r.temp+"/rolled-back.json")
		rolled, err := os.ReadFile(filepath.Join(r.temp, "rollback.txt"))
		require.NoError(t, err)
		assert.Contains(t, string(rolled), "stackctl rollback -stack "+job, "the rollback's output is kept for the notification")

		for _, fail := range []string{"stackctl rollback", "smoke -outputs"} {
			r := runStep(t, roll.Run, dir, nil, map[string]string{"FAIL": fail})
			assert.NotEqual(t, 0, r.code, "%s: a failing %s fails the step: %s", job, fail, r.log)
		}
		r = runStep(t, roll.Run, dir, nil, map[string]string{"FAIL": "stackctl rollback"})
		assert.NotContains(t, r.log, "smoke -outputs", "%s: no smoke test of a rollback that failed", job)
	}
}

// The offline step fails the job when the diff says production data would be deleted or replaced (exit 4),
// unless the accept-production-data-change label accepts it, and on any other failure of the diff; it writes
// the files the comment is made of in every case.
func TestTheOfflineDiffGatesProductionData(t *testing.T) {
	s := stepScript(t, "preview.yml", "offline", "offline")
	// go run ./cmd/preview: the preview exits 0; its -diff exits $FAKE_DIFF for production, 0 for staging.
	fakes := map[string]string{"go": `echo "go $*" >> "$FAKE_LOG"
case "$*" in
  *"-stack production -diff"*) echo "!! PRODUCTION DATA: aws:dynamodb/table:Table app-events-table would be replaced"; exit "$FAKE_DIFF" ;;
esac
echo "preview $*"
`}
	for _, tc := range []struct {
		name, diff, accept string
		code               int
	}{
		{"a clean diff passes", "0", "false", 0},
		{"production data replaced fails the job", "4", "false", 4},
		{"the label accepts production data replaced", "4", "true", 0},
		{"a diff that cannot run fails the job", "1", "false", 1},
		{"the label accepts nothing but production data", "1", "true", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "out"), 0o755))
			for _, stack := range []string{"staging", "production"} {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "out", stack+"-base.json"), []byte("{}"), 0o600))
			}
			r := runStep(t, s.Run, dir, fakes, map[string]string{"FAKE_DIFF": tc.diff,
				"ACCEPT_DATA_CHANGE": tc.accept})
			assert.Equal(t, tc.code, r.code, r.log)
			for _, stack := range []string{"staging", "production"} {
				raw, err := os.ReadFile(filepath.Join(dir, "out", "offline-"+stack+".txt"))
				require.NoError(t, err, "the comment's file is written")
				assert.Contains(t, string(raw), "## Changes from the base branch: "+stack)
			}
			if tc.diff == "4" {
				assert.Contains(t, r.log, "production: the change deletes or replaces production data")
			}
		})
	}
}
