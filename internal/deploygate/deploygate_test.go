package deploygate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appstack/internal/github"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Commits: main is a → b → c (c the head), and c is the merge commit of a pull request whose own commits p1 → p2
// branched from a (so p1 and p2 are ancestors of main's head without ever having been main's head); t is a commit
// only a tag named main points to (its parent b); x is on another branch (parent a).
var (
	shaP1 = strings.Repeat("1", 40)
	shaP2 = strings.Repeat("2", 40)
	shaA  = strings.Repeat("a", 40)
	shaB  = strings.Repeat("b", 40)
	shaC  = strings.Repeat("c", 40)
	shaT  = strings.Repeat("7", 40)
	shaX  = strings.Repeat("9", 40)
)

const (
	repo       = "o/r"
	repoID     = 4242
	ciID       = 101
	otherWfID  = 202
	token      = "t0ken"
	deployedOK = "success"
)

type deployment struct {
	id    int64
	sha   string
	state string // the newest status
}

// fakeGitHub answers the REST calls the gate makes, from a small commit graph, the way GitHub documents them.
type fakeGitHub struct {
	head    string
	parents map[string][]string
	ciRuns  []WorkflowRun
	// deployed are deployment records, which any writer can create through the REST API: forged ones included.
	deployed []deployment
	// deployRuns are runs of deploy.yml, newest first, with their jobs' conclusions by name.
	deployRuns []deployRun
	// nextLink, when set, replaces the Link header of the deploy runs' pages (a page that points elsewhere).
	nextLink string
	// raw replaces the answer of a path with a body, to serve what the API should never send.
	raw   map[string]string
	calls []string
}

func newFake() *fakeGitHub {
	return &fakeGitHub{head: shaC, parents: map[string][]string{shaB: {shaA}, shaC: {shaB, shaP2}, shaP1: {shaA},
		shaP2: {shaP1}, shaT: {shaB}, shaX: {shaA}}, raw: map[string]string{}}
}

type deployRun struct {
	run  WorkflowRun
	jobs map[string]string
}

const deployID = 303

// deployedBy is a run of this repository's deploy.yml on main, started by ci, whose production job concluded
// conclusion.
func deployedBy(id int64, sha, conclusion string) deployRun {
	return deployRun{run: WorkflowRun{ID: id, Event: "workflow_run", Status: "completed", Conclusion: conclusion,
		HeadBranch: "main", HeadSHA: sha, Path: ".github/workflows/deploy.yml", WorkflowID: deployID,
		HeadRepository: Repository{ID: repoID, FullName: repo}, Repository: Repository{ID: repoID, FullName: repo}},
		jobs: map[string]string{"gate": "success", "staging": "success", "production-preview": "success",
			"production": conclusion}}
}

// ancestors is sha and every commit before it, along every parent.
func (f *fakeGitHub) ancestors(sha string) map[string]bool {
	out := map[string]bool{}
	todo := []string{sha}
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if !out[c] {
			out[c] = true
			todo = append(todo, f.parents[c]...)
		}
	}
	return out
}

// page serves items[page-1] of per_page (default 30) with a Link header to the next page, as GitHub does.
func page[T any](w http.ResponseWriter, r *http.Request, items []T, link string) []T {
	per, pg := 30, 1
	_, _ = fmt.Sscan(r.URL.Query().Get("per_page"), &per)
	_, _ = fmt.Sscan(r.URL.Query().Get("page"), &pg)
	lo, hi := min((pg-1)*per, len(items)), min(pg*per, len(items))
	if hi < len(items) {
		q := r.URL.Query()
		q.Set("page", fmt.Sprint(pg+1))
		next := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		if link != "" {
			next = link
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
	}
	return items[lo:hi]
}

func (f *fakeGitHub) compare(base, head string) map[string]any {
	ab, hb := f.ancestors(base), f.ancestors(head)
	ahead, behind := 0, 0
	for c := range hb {
		if !ab[c] {
			ahead++
		}
	}
	for c := range ab {
		if !hb[c] {
			behind++
		}
	}
	status := "diverged"
	switch {
	case ahead == 0 && behind == 0:
		status = "identical"
	case behind == 0:
		status = "ahead"
	case ahead == 0:
		status = "behind"
	}
	return map[string]any{"status": status, "ahead_by": ahead, "behind_by": behind}
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls = append(f.calls, r.URL.RequestURI())
	if r.Header.Get("Authorization") != "Bearer "+token {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/repos/"+repo)
	if body, ok := f.raw[p]; ok {
		_, _ = w.Write([]byte(body))
		return
	}
	var out any
	var id int64
	switch {
	case p == "/git/ref/heads/main":
		out = map[string]any{"ref": Branch, "object": map[string]string{"type": "commit", "sha": f.head}}
	case strings.HasPrefix(p, "/compare/"):
		base, head, ok := strings.Cut(strings.TrimPrefix(p, "/compare/"), "...")
		if !ok {
			http.NotFound(w, r)
			return
		}
		out = f.compare(base, head)
	case p == "/actions/workflows/ci.yml":
		out = map[string]any{"id": ciID, "path": CIWorkflow}
	case p == "/actions/workflows/ci.yml/runs":
		q := r.URL.Query()
		runs := []WorkflowRun{}
		for _, run := range f.ciRuns {
			if run.HeadSHA == q.Get("head_sha") && run.HeadBranch == q.Get("branch") && run.Event == q.Get("event") &&
				run.Conclusion == q.Get("status") {
				runs = append(runs, run)
			}
		}
		out = map[string]any{"total_count": len(runs), "workflow_runs": runs}
	case p == "/deployments":
		list := []map[string]any{}
		for i := len(f.deployed) - 1; i >= 0; i-- { // newest first
			list = append(list, map[string]any{"id": f.deployed[i].id, "sha": f.deployed[i].sha,
				"environment": r.URL.Query().Get("environment")})
		}
		out = page(w, r, list, "")
	case p == "/actions/workflows/deploy.yml":
		out = map[string]any{"id": deployID, "path": ".github/workflows/deploy.yml"}
	case p == "/actions/workflows/deploy.yml/runs":
		q := r.URL.Query()
		runs := []WorkflowRun{}
		for _, d := range f.deployRuns {
			if d.run.HeadBranch == q.Get("branch") && d.run.Status == q.Get("status") {
				runs = append(runs, d.run)
			}
		}
		out = map[string]any{"total_count": len(runs), "workflow_runs": page(w, r, runs, f.nextLink)}
	case sscan(p, "/actions/runs/%d/jobs", &id):
		jobs := []map[string]any{}
		for _, d := range f.deployRuns {
			if d.run.ID == id {
				for name, conclusion := range d.jobs {
					jobs = append(jobs, map[string]any{"name": name, "status": "completed", "conclusion": conclusion,
						"head_sha": d.run.HeadSHA})
				}
			}
		}
		out = map[string]any{"total_count": len(jobs), "jobs": page(w, r, jobs, "")}
	case sscan(p, "/deployments/%d/statuses", &id):
		out = []map[string]string{}
		for _, d := range f.deployed {
			if d.id == id {
				out = []map[string]string{{"state": d.state}}
			}
		}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func sscan(path, format string, v *int64) bool {
	n, err := fmt.Sscanf(path, format, v)
	return err == nil && n == 1 && fmt.Sprintf(format, *v) == path
}

func serve(t *testing.T, f *fakeGitHub) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{github.Client{API: srv.URL, Token: token, Repo: repo, HTTP: srv.Client()}}
}

// ciRun is the workflow_run event of a successful run of this repository's ci.yml for a push to main of sha.
func ciRun(sha string) Event {
	return Event{Name: "workflow_run", Ref: "refs/heads/main", SHA: sha, Repository: Repository{ID: repoID, FullName: repo},
		Run: &WorkflowRun{ID: 9, Event: "push", Status: "completed", Conclusion: "success", HeadBranch: "main",
			HeadSHA: sha, Path: CIWorkflow, WorkflowID: ciID, HTMLURL: "https://github.com/o/r/actions/runs/9",
			HeadRepository: Repository{ID: repoID, FullName: repo}, Repository: Repository{ID: repoID, FullName: repo}}}
}

func with(e Event, change func(r *WorkflowRun)) Event {
	r := *e.Run
	change(&r)
	e.Run = &r
	return e
}

func TestTheGateAdmitsOnlyMainsHeadThatPassedTheRepositorysOwnCI(t *testing.T) {
	f := newFake()
	f.ciRuns = []WorkflowRun{*ciRun(shaC).Run}
	c := serve(t, f)
	got, err := c.Admit(context.Background(), ciRun(shaC))
	require.NoError(t, err)
	assert.Equal(t, shaC, got, "exactly the commit ci tested")

	atRef, err := c.Admit(context.Background(), with(ciRun(shaC), func(r *WorkflowRun) {
		r.Path = CIWorkflow + "@refs/heads/main"
	}))
	require.NoError(t, err, "the payload's path may name the file at main's ref")
	assert.Equal(t, shaC, atRef)

	dispatched, err := c.Admit(context.Background(), Event{Name: "workflow_dispatch", Ref: Branch, SHA: shaC})
	require.NoError(t, err)
	assert.Equal(t, shaC, dispatched)

	for _, tc := range []struct {
		name  string
		event Event
		want  string
	}{
		{"a tag named main: its commit is not on refs/heads/main", ciRun(shaT), "is not on refs/heads/main"},
		{"a commit of another branch under the name main", ciRun(shaX), "is not on refs/heads/main"},
		{"a stale commit: main has moved on", ciRun(shaB), "is no longer main's head"},
		{"an intermediate commit of a merged pull request", ciRun(shaP2), "is no longer main's head"},
		{"ci's commit is not the run's GITHUB_SHA", func() Event { e := ciRun(shaC); e.SHA = shaB; return e }(),
			"is not this run's GITHUB_SHA"},
		{"a path at another ref", with(ciRun(shaC), func(r *WorkflowRun) {
			r.Path = CIWorkflow + "@refs/heads/evil"
		}), `workflow file ".github/workflows/ci.yml@refs/heads/evil"`},
		{"a path at main's ref, of another workflow id", with(ciRun(shaC), func(r *WorkflowRun) {
			r.Path, r.WorkflowID = CIWorkflow+"@refs/heads/main", otherWfID
		}), "workflow id 202"},
		{"a foreign workflow file named ci", with(ciRun(shaC), func(r *WorkflowRun) {
			r.Path, r.WorkflowID = ".github/workflows/evil.yml", otherWfID
		}), `workflow file ".github/workflows/evil.yml"`},
		{"another workflow id at ci.yml's path", with(ciRun(shaC), func(r *WorkflowRun) { r.WorkflowID = otherWfID }),
			"workflow id 202"},
		{"a fork's branch named main", with(ciRun(shaC), func(r *WorkflowRun) {
			r.HeadRepository = Repository{ID: 7, FullName: "fork/r"}
		}), "not this repository"},
		{"a repository of the same name but another id", with(ciRun(shaC), func(r *WorkflowRun) {
			r.HeadRepository.ID = 7
		}), "not this repository"},
		{"ci of a pull request", with(ciRun(shaC), func(r *WorkflowRun) { r.Event = "pull_request" }),
			"only a push to main deploys"},
		{"ci of a push to another branch", with(ciRun(shaC), func(r *WorkflowRun) { r.HeadBranch = "feature" }),
			`not main`},
		{"ci failed", with(ciRun(shaC), func(r *WorkflowRun) { r.Conclusion = "failure" }), `ci concluded "failure"`},
		{"not a commit SHA", with(ciRun(shaC), func(r *WorkflowRun) { r.HeadSHA = "main" }), "is not a commit SHA"},
		{"no run in the event", Event{Name: "workflow_run"}, "has no workflow_run"},
		{"another event", Event{Name: "push", Ref: Branch, SHA: shaC}, `not "push"`},
		{"a dispatch from a tag named main", Event{Name: "workflow_dispatch", Ref: "refs/tags/main", SHA: shaC},
			"not refs/tags/main"},
		{"a dispatch from a branch", Event{Name: "workflow_dispatch", Ref: "refs/heads/feature", SHA: shaC},
			"not refs/heads/feature"},
		{"a dispatch of a commit ci never passed", Event{Name: "workflow_dispatch", Ref: Branch, SHA: shaB},
			"has no successful run of .github/workflows/ci.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Admit(context.Background(), tc.event)
			assert.ErrorIs(t, err, ErrRefused)
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, got)
		})
	}
}

func TestTheDispatchCheckTrustsOnlyWhatItRead(t *testing.T) {
	for name, tc := range map[string]struct {
		runs    []WorkflowRun
		raw     string
		want    string
		refused bool
	}{
		"a run of a tag named main (the branch filter matches it too)": {runs: []WorkflowRun{
			*with(ciRun(shaB), func(r *WorkflowRun) { r.HeadSHA = shaT }).Run}},
		"a count that is not a number": {raw: `{"total_count": "lots", "workflow_runs": []}`,
			want: "not the documented JSON"},
		"no count at all": {raw: `{"message": "ok"}`, want: "no total_count"},
		"a count without runs": {raw: `{"total_count": 3, "workflow_runs": []}`,
			want: "has no successful run", refused: true},
		"a run of another workflow file": {raw: fmt.Sprintf(`{"total_count": 1, "workflow_runs": [{"head_sha": %q, `+
			`"event": "push", "conclusion": "success", "path": ".github/workflows/evil.yml", `+
			`"head_repository": {"full_name": %q}}]}`, shaT, repo), want: "has no successful run", refused: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.ciRuns = tc.runs
			if tc.raw != "" {
				f.raw["/actions/workflows/ci.yml/runs"] = tc.raw
			}
			got, err := serve(t, f).Admit(context.Background(), Event{Name: "workflow_dispatch", Ref: Branch, SHA: shaT})
			require.Error(t, err)
			assert.Empty(t, got)
			if tc.want != "" {
				assert.ErrorContains(t, err, tc.want)
			}
			if tc.refused || tc.runs != nil {
				assert.ErrorIs(t, err, ErrRefused)
			}
		})
	}
}

func TestOnlyMainsHeadGoesWhenTheJobStarts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sha      string
		deployed []deployment
		want     string // "" lets it through
	}{
		{"main's head goes", shaC, nil, ""},
		{"main's head goes over anything", shaC, []deployment{{1, shaC, deployedOK}}, ""},
		// b was merged, then c reverted it: b is still a descendant of what production ran (a).
		{"a commit merged then reverted", shaB, []deployment{{1, shaA, deployedOK}}, "is not main's head"},
		// A re-run of an old run's jobs replays its gate output (b) after main moved on to c.
		{"a re-run of the run that deployed an older commit", shaB, []deployment{{1, shaB, deployedOK}},
			"is not main's head"},
		{"an intermediate commit of a merged pull request, over a forged deployment", shaP2,
			[]deployment{{1, shaP1, deployedOK}}, "is not main's head"},
		{"an older commit than production runs", shaA, []deployment{{1, shaB, deployedOK}}, "is not main's head"},
		{"a commit of a tag named main", shaT, []deployment{{1, shaA, deployedOK}}, "is not main's head"},
		{"a commit of another branch", shaX, []deployment{{1, shaA, deployedOK}}, "is not main's head"},
		{"not a commit SHA", "main", nil, "is not a commit SHA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.deployed = tc.deployed
			err := serve(t, f).Current(context.Background(), tc.sha, "production")
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrRefused)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestTheDriftCheckRunsOnlyWhatProductionsJobDeployed(t *testing.T) {
	forgedFeature := deployedBy(8, shaX, "success")
	forgedFeature.run.HeadBranch = "feature"
	forgedFile := deployedBy(8, shaP1, "success")
	forgedFile.run.Path, forgedFile.run.WorkflowID = ".github/workflows/evil.yml", otherWfID
	forgedPush := deployedBy(8, shaP1, "success")
	forgedPush.run.Event = "push"
	tagged := deployedBy(8, shaT, "success")
	tagged.run.Event = "workflow_dispatch"
	atRef := deployedBy(8, shaB, "success")
	atRef.run.Path += "@refs/heads/main"
	many := []deployRun{}
	for i := range 130 {
		many = append(many, deployedBy(int64(1000-i), shaC, "skipped"))
	}
	many = append(many, deployedBy(1, shaB, "success"))
	for _, tc := range []struct {
		name     string
		runs     []deployRun
		deployed []deployment
		want     string // the commit, or the refusal
	}{
		{"the newest run whose production job succeeded",
			[]deployRun{deployedBy(3, shaC, "failure"), deployedBy(2, shaB, "success"), deployedBy(1, shaA, "success")},
			nil, shaB},
		{"a forged deployment record of an intermediate commit", []deployRun{deployedBy(1, shaA, "success")},
			[]deployment{{1, shaA, deployedOK}, {2, shaP1, deployedOK}}, shaA},
		{"only a forged deployment record", nil, []deployment{{1, shaP1, deployedOK}},
			"no run of .github/workflows/deploy.yml on main has a successful production job"},
		{"a run of another branch", []deployRun{forgedFeature, deployedBy(1, shaA, "success")}, nil, shaA},
		{"a run of another workflow file", []deployRun{forgedFile, deployedBy(1, shaA, "success")}, nil, shaA},
		{"a run for a push (a workflow edited on main, not ci's)", []deployRun{forgedPush, deployedBy(1, shaA, "success")},
			nil, shaA},
		{"a path at main's ref", []deployRun{atRef, deployedBy(1, shaA, "success")}, nil, shaB},
		{"a dispatch from a tag named main", []deployRun{tagged}, nil, "is not on refs/heads/main"},
		{"the run beyond the first pages", many, nil, shaB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.deployRuns, f.deployed = tc.runs, tc.deployed
			got, err := serve(t, f).Running(context.Background(), "production")
			if fullSHA.MatchString(tc.want) {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			assert.ErrorIs(t, err, ErrRefused)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestTheTokenFollowsNoLinkOutOfTheRepositorysAPI(t *testing.T) {
	f := newFake()
	for i := range 140 {
		f.deployRuns = append(f.deployRuns, deployedBy(int64(100-i), shaC, "skipped"))
	}
	f.nextLink = "https://evil.example/repos/o/r/actions/workflows/deploy.yml/runs?page=2"
	_, err := serve(t, f).Running(context.Background(), "production")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrRefused)
	assert.ErrorContains(t, err, "is not this repository's API")
	for _, call := range f.calls {
		assert.NotContains(t, call, "evil.example")
	}
}

func TestAnswersThatAreNotGitHubsAreErrors(t *testing.T) {
	for _, tc := range []struct{ path, body string }{
		{"/git/ref/heads/main", `{"ref": "refs/tags/main", "object": {"type": "commit", "sha": "` + shaT + `"}}`},
		{"/compare/" + shaB + "..." + shaC, `{"status": "sideways", "ahead_by": 1, "behind_by": 0}`},
		{"/compare/" + shaB + "..." + shaC, `{"status": "ahead"}`},
		{"/actions/workflows/ci.yml", `{"id": "ci"}`},
	} {
		path, body := tc.path, tc.body
		f := newFake()
		f.raw[path] = body
		_, err := serve(t, f).Admit(context.Background(), ciRun(shaB))
		require.Error(t, err, path)
		assert.NotErrorIs(t, err, ErrRefused, "%s: an API failure is not a verdict", path)
	}
	f := newFake()
	c := serve(t, f)
	c.Token = "wrong"
	_, err := c.Admit(context.Background(), ciRun(shaC))
	assert.ErrorContains(t, err, "401")
}

func TestCommand(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	event, err := json.Marshal(ciRun(shaC))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(path, event, 0o600))
	env := map[string]string{"GITHUB_API_URL": srv.URL + "/", "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": repo,
		"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": path, "GITHUB_SHA": shaC}
	getenv := func(k string) string { return env[k] }

	var out strings.Builder
	require.NoError(t, Command(context.Background(), []string{"admit"}, getenv, &out))
	assert.Equal(t, shaC+"\n", out.String(), "the payload's workflow_run and repository are read")

	out.Reset()
	require.NoError(t, Command(context.Background(), []string{"current", "-sha", shaC, "-environment", "production"},
		getenv, &out))
	assert.Contains(t, out.String(), "may go to production")

	f.deployRuns = []deployRun{deployedBy(1, shaB, "success")}
	out.Reset()
	require.NoError(t, Command(context.Background(), []string{"running", "-environment", "production"}, getenv, &out))
	assert.Equal(t, shaB+"\n", out.String())

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "no subcommand"},
		{[]string{"launch"}, nil, `unknown subcommand "launch"`},
		{[]string{"current", "-sha", shaC}, nil, "needs -sha and -environment"},
		{[]string{"running"}, nil, "needs -environment"},
		{[]string{"admit", "extra"}, nil, "unexpected arguments"},
		{[]string{"admit"}, map[string]string{"GITHUB_REPOSITORY": "o/r/x"}, "GITHUB_REPOSITORY"},
		{[]string{"admit"}, map[string]string{"GITHUB_TOKEN": ""}, "GITHUB_TOKEN"},
		{[]string{"admit"}, map[string]string{"GITHUB_EVENT_PATH": ""}, "GITHUB_EVENT_PATH"},
	} {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range tc.env {
			e[k] = v
		}
		err := Command(context.Background(), tc.args, func(k string) string { return e[k] }, &strings.Builder{})
		assert.True(t, errors.Is(err, ErrUsage), "%v: %v", tc.args, err)
		assert.ErrorContains(t, err, tc.want)
	}
}
