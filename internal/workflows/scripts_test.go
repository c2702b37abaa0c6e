package workflows

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestTheDeployGateLetsOnlyCIPassedCommitsOfMainThrough(t *testing.T) {
	s := stepScript(t, "deploy.yml", "gate", "gate")
	// gh api … --jq .total_count answers how many successful ci runs of a push to main the commit has.
	fakes := map[string]string{"gh": `echo "gh $*" >> "$FAKE_LOG"; echo "${FAKE_RUNS:-0}"` + "\n"}
	run := func(env map[string]string) stepRun { return runStep(t, s.Run, t.TempDir(), fakes, env) }
	fromCI := func(conclusion, event, branch, repo, sha string) map[string]string {
		return map[string]string{"EVENT": "workflow_run", "REF": "refs/heads/main", "DISPATCH_SHA": otherSHA,
			"RUN_EVENT": event, "RUN_CONCLUSION": conclusion, "RUN_BRANCH": branch, "RUN_REPO": repo, "RUN_SHA": sha}
	}

	ok := run(fromCI("success", "push", "main", "o/r", mainSHA))
	assert.Equal(t, 0, ok.code, ok.log)
	assert.Equal(t, mainSHA, ok.outputs["sha"], "exactly the commit ci tested, not main's newest")

	for name, env := range map[string]map[string]string{
		"ci failed":                             fromCI("failure", "push", "main", "o/r", mainSHA),
		"ci of a pull request":                  fromCI("success", "pull_request", "main", "o/r", mainSHA),
		"a fork's branch named main":            fromCI("success", "push", "main", "fork/r", mainSHA),
		"another branch":                        fromCI("success", "push", "feature", "o/r", mainSHA),
		"not a commit SHA":                      fromCI("success", "push", "main", "o/r", "main"),
		"dispatch from a branch":                {"EVENT": "workflow_dispatch", "REF": "refs/heads/feature", "DISPATCH_SHA": mainSHA},
		"dispatch of a commit without ci on it": {"EVENT": "workflow_dispatch", "REF": "refs/heads/main", "DISPATCH_SHA": mainSHA, "FAKE_RUNS": "0"},
	} {
		r := run(env)
		assert.Equal(t, 1, r.code, "%s: %s", name, r.log)
		assert.Empty(t, r.outputs["sha"], name)
		assert.Contains(t, r.log, "::error::", name)
		why, err := os.ReadFile(filepath.Join(r.temp, "gate.txt"))
		assert.NoError(t, err, "%s: the reason is kept for the notification", name)
		assert.Contains(t, r.log, "::error::"+string(why), name)
	}

	dispatched := run(map[string]string{"EVENT": "workflow_dispatch", "REF": "refs/heads/main", "DISPATCH_SHA": mainSHA, "FAKE_RUNS": "1"})
	assert.Equal(t, 0, dispatched.code, dispatched.log)
	assert.Equal(t, mainSHA, dispatched.outputs["sha"])
	assert.Contains(t, dispatched.log, "gh api -X GET repos/o/r/actions/workflows/ci.yml/runs -f head_sha="+mainSHA+
		" -f branch=main -f event=push -f status=success --jq .total_count")
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
