// Package deploygate decides, from GitHub's own records, whether the deploy workflow may deploy a commit: the
// commit must be on the branch refs/heads/main (never merely under a ref *named* main: a tag may be named main
// too), have passed this repository's own .github/workflows/ci.yml on a push, and be main's current head, both when
// the run starts and again when each deploying job starts (an approval may come long after, and a re-run replays
// the old run's outputs): a commit merged and then reverted is still on main, so only the head goes.
//
// What GitHub documents and the gate relies on:
//   - the workflow_run event carries the triggering run (head_branch, head_sha, event, conclusion, path,
//     workflow_id, head_repository: https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run,
//     octokit/webhooks payload-schemas common/workflow-run.schema.json). head_branch is the pushed ref's short
//     name, a tag's as well as a branch's, and `on.workflow_run.branches` filters on it, so a push of a tag named
//     main passes that filter; any workflow file whose name is ci starts deploy.yml.
//   - GET /repos/{owner}/{repo}/git/ref/heads/main returns the branch's commit, never a tag's
//     (https://docs.github.com/en/rest/git/refs#get-a-reference).
//   - GET /repos/{owner}/{repo}/compare/{base}...{head} answers status ahead (base is an ancestor of head),
//     behind, identical or diverged, with ahead_by and behind_by
//     (https://docs.github.com/en/rest/commits/commits#compare-two-commits).
//   - GET /repos/{owner}/{repo}/actions/workflows/ci.yml/runs filters runs by head_sha, branch, event and status
//     (https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow).
//   - What production runs is read from runs of this repository's .github/workflows/deploy.yml on main whose
//     production job succeeded (GET …/actions/workflows/deploy.yml/runs, newest first, and
//     …/actions/runs/{id}/jobs: https://docs.github.com/en/rest/actions/workflow-jobs), never from deployment
//     records: any writer can create a deployment with a success status through the REST API, and environment
//     protection rules gate jobs, not API-created deployments (github/branch-deploy#352).
//   - Lists page with the Link header's rel="next" (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api);
//     internal/github follows them, and sends the token to this repository's part of the API only.
package deploygate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"appstack/internal/github"
)

// CIWorkflow is the repository's CI workflow file, the only one whose runs may lead to a deploy.
const CIWorkflow = ".github/workflows/ci.yml"

// DeployWorkflow is the deploy workflow file, the only one whose jobs prove what an environment runs.
const DeployWorkflow = ".github/workflows/deploy.yml"

// Branch is the only branch that deploys, as a full ref.
const Branch = "refs/heads/main"

// ErrRefused marks a commit the gate does not let through (as opposed to an API failure).
var ErrRefused = errors.New("refused")

// maxPages bounds how many pages of 100 a list is read to; beyond it the answer is an error, not a guess.
const maxPages = 10

var (
	fullSHA  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	repoName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// Repository is a repository as GitHub's payloads describe it.
type Repository struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
}

// WorkflowRun is the part of a workflow run (the workflow_run event's, or the REST API's) the gate reads.
type WorkflowRun struct {
	ID             int64      `json:"id"`
	Event          string     `json:"event"`
	Status         string     `json:"status"`
	Conclusion     string     `json:"conclusion"`
	HeadBranch     string     `json:"head_branch"`
	HeadSHA        string     `json:"head_sha"`
	Path           string     `json:"path"`
	WorkflowID     int64      `json:"workflow_id"`
	HTMLURL        string     `json:"html_url"`
	HeadRepository Repository `json:"head_repository"`
	Repository     Repository `json:"repository"`
}

// Event is what started the deploy workflow: GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA and, for workflow_run,
// the payload's workflow_run and repository (GITHUB_EVENT_PATH).
type Event struct {
	Name       string       `json:"-"`
	Ref        string       `json:"-"`
	SHA        string       `json:"-"`
	Run        *WorkflowRun `json:"workflow_run"`
	Repository Repository   `json:"repository"`
}

// Client reads the repository's records through the GitHub REST API; its token needs contents and actions read.
type Client struct {
	github.Client
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// rest is the shared GitHub REST client for c's API, token and repository.
func (c *Client) rest() *github.Client {
	return &c.Client
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.rest().Get(ctx, path, q, out)
}

// list reads every page of a list (at most maxPages), following the Link header's rel="next" inside this
// repository's API only, and hands each page to page. It stops early when page says done.
func (c *Client) list(ctx context.Context, path string, q url.Values, page func(body json.RawMessage) (done bool, err error)) error {
	return c.rest().List(ctx, path, q, maxPages, page)
}

// MainHead is the commit refs/heads/main points to.
func (c *Client) MainHead(ctx context.Context) (string, error) {
	var ref struct {
		Ref    string `json:"ref"`
		Object struct {
			Type string `json:"type"`
			SHA  string `json:"sha"`
		} `json:"object"`
	}
	if err := c.get(ctx, "/git/ref/heads/main", nil, &ref); err != nil {
		return "", err
	}
	if ref.Ref != Branch || ref.Object.Type != "commit" || !fullSHA.MatchString(ref.Object.SHA) {
		return "", fmt.Errorf("git/ref/heads/main answered ref %q, %s %q: not the branch's commit", ref.Ref,
			ref.Object.Type, ref.Object.SHA)
	}
	return ref.Object.SHA, nil
}

// IsAncestor says whether commit base is head or one of its ancestors.
func (c *Client) IsAncestor(ctx context.Context, base, head string) (bool, error) {
	if base == head {
		return true, nil
	}
	var cmp struct {
		Status   string `json:"status"`
		AheadBy  *int   `json:"ahead_by"`
		BehindBy *int   `json:"behind_by"`
	}
	if err := c.get(ctx, "/compare/"+base+"..."+head, nil, &cmp); err != nil {
		return false, err
	}
	if cmp.AheadBy == nil || cmp.BehindBy == nil {
		return false, fmt.Errorf("compare %s...%s: no ahead_by or behind_by in the answer", short(base), short(head))
	}
	switch cmp.Status {
	case "ahead", "identical":
		return *cmp.BehindBy == 0, nil
	case "behind", "diverged":
		return false, nil
	}
	return false, fmt.Errorf("compare %s...%s: unknown status %q", short(base), short(head), cmp.Status)
}

// passedCI says whether sha has a successful ci.yml run of a push to main in this repository.
func (c *Client) passedCI(ctx context.Context, sha string) (bool, error) {
	var list struct {
		TotalCount   *int          `json:"total_count"`
		WorkflowRuns []WorkflowRun `json:"workflow_runs"`
	}
	q := url.Values{"head_sha": {sha}, "branch": {"main"}, "event": {"push"}, "status": {"success"}}
	if err := c.get(ctx, "/actions/workflows/ci.yml/runs", q, &list); err != nil {
		return false, err
	}
	if list.TotalCount == nil {
		return false, errors.New("actions/workflows/ci.yml/runs: no total_count in the answer")
	}
	for _, r := range list.WorkflowRuns {
		// The API's filters are re-checked here: the gate trusts what it has read, not what it asked for.
		if r.HeadSHA == sha && r.Event == "push" && r.Conclusion == "success" && r.Path == CIWorkflow &&
			r.HeadRepository.FullName == c.Repo {
			return true, nil
		}
	}
	return false, nil
}

// Admit returns the commit the deploy workflow may deploy for e, or an error wrapping ErrRefused that says why
// not. A workflow_run must be a successful run of this repository's own ci.yml for a push, and a dispatch must
// come from refs/heads/main with a commit that such a run passed; either way the commit must be main's head.
func (c *Client) Admit(ctx context.Context, e Event) (string, error) {
	var sha string
	switch e.Name {
	case "workflow_run":
		r := e.Run
		if r == nil {
			return "", refuse("the workflow_run event has no workflow_run")
		}
		sha = r.HeadSHA
		switch {
		case r.Event != "push":
			return "", refuse("ci ran for a %s of %s:%q; only a push to main deploys", r.Event,
				r.HeadRepository.FullName, r.HeadBranch)
		case r.HeadRepository.FullName != c.Repo || r.Repository.FullName != c.Repo ||
			e.Repository.ID == 0 || r.HeadRepository.ID != e.Repository.ID:
			return "", refuse("ci ran for %s (repository id %d), not this repository %s (id %d)",
				r.HeadRepository.FullName, r.HeadRepository.ID, c.Repo, e.Repository.ID)
		case !isWorkflowFile(r.Path, CIWorkflow):
			return "", refuse("the run is of workflow file %q, not %s: another workflow named ci deploys nothing",
				r.Path, CIWorkflow)
		case r.HeadBranch != "main":
			return "", refuse("ci ran for a push to %q, not main", r.HeadBranch)
		case r.Conclusion != "success":
			return "", refuse("ci concluded %q for %s: nothing is deployed (%s)", r.Conclusion, sha, r.HTMLURL)
		case !fullSHA.MatchString(sha):
			return "", refuse("%q is not a commit SHA", sha)
		}
		var wf struct {
			ID   int64  `json:"id"`
			Path string `json:"path"`
		}
		if err := c.get(ctx, "/actions/workflows/ci.yml", nil, &wf); err != nil {
			return "", err
		}
		if wf.Path != CIWorkflow || wf.ID == 0 || wf.ID != r.WorkflowID {
			return "", refuse("the run is of workflow id %d, and this repository's %s is workflow id %d",
				r.WorkflowID, CIWorkflow, wf.ID)
		}
	case "workflow_dispatch":
		sha = e.SHA
		if e.Ref != Branch {
			return "", refuse("deploy runs by hand only from %s, not %s", Branch, e.Ref)
		}
		if !fullSHA.MatchString(sha) {
			return "", refuse("%q is not a commit SHA", sha)
		}
		ok, err := c.passedCI(ctx, sha)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", refuse("%s has no successful run of %s for a push to main: push it and let ci pass first",
				sha, CIWorkflow)
		}
	default:
		return "", refuse("deploy starts on workflow_run or workflow_dispatch, not %q", e.Name)
	}
	head, err := c.MainHead(ctx)
	if err != nil {
		return "", err
	}
	if sha == head {
		// GitHub records a workflow_run's jobs under its GITHUB_SHA (main's head when the run was created), and
		// drift.yml reads what production runs from that record: a run whose GITHUB_SHA is not ci's commit would
		// deploy one commit under another's name.
		if e.Name == "workflow_run" && e.SHA != sha {
			return "", refuse("ci's commit %s is not this run's GITHUB_SHA %q: main moved before the run began", sha, e.SHA)
		}
		return sha, nil
	}
	onMain, err := c.IsAncestor(ctx, sha, head)
	if err != nil {
		return "", err
	}
	if !onMain {
		return "", refuse("%s is not on %s (its head is %s): a tag or another branch named main deploys nothing",
			sha, Branch, head)
	}
	return "", refuse("%s is no longer main's head (%s): the newer commit's own ci run deploys it", sha, head)
}

// isWorkflowFile says whether a run's path names file, with or without an @ref suffix naming main (the
// workflow_run payload's path may carry one). The workflow id stays the deciding check.
func isWorkflowFile(path, file string) bool {
	return path == file || path == file+"@"+Branch
}

// Current checks, as a deploying job starts (after its approval, which may come long after the run began, or in
// a re-run that replays an old run's outputs), that sha is still main's head. Nothing else goes: an older commit
// would roll the environment back, and a commit merged then reverted is still a descendant of what runs.
func (c *Client) Current(ctx context.Context, sha, environment string) error {
	if !fullSHA.MatchString(sha) {
		return refuse("%q is not a commit SHA", sha)
	}
	head, err := c.MainHead(ctx)
	if err != nil {
		return err
	}
	if sha != head {
		return refuse("%s is not main's head (%s): only the head goes to %s; approve or start the newest run "+
			"instead (an older or reverted commit would roll %s back)", sha, head, environment, environment)
	}
	return nil
}

// Running returns the commit environment runs, for a job (the drift check) that may run only code the
// environment's approvers let through: the head_sha of the newest run of this repository's deploy.yml on main
// (started by ci's workflow_run or by hand) whose job named environment succeeded. Only that job, behind the
// environment's protection rules, can make such a record; the commit must also be on main.
func (c *Client) Running(ctx context.Context, environment string) (string, error) {
	var wf struct {
		ID   int64  `json:"id"`
		Path string `json:"path"`
	}
	if err := c.get(ctx, "/actions/workflows/deploy.yml", nil, &wf); err != nil {
		return "", err
	}
	if wf.Path != DeployWorkflow || wf.ID == 0 {
		return "", fmt.Errorf("actions/workflows/deploy.yml answered workflow %d at %q, not %s", wf.ID, wf.Path,
			DeployWorkflow)
	}
	var found string
	q := url.Values{"branch": {"main"}, "status": {"completed"}, "per_page": {"100"}}
	err := c.list(ctx, "/actions/workflows/deploy.yml/runs", q, func(body json.RawMessage) (bool, error) {
		var page struct {
			WorkflowRuns *[]WorkflowRun `json:"workflow_runs"`
		}
		if err := json.Unmarshal(body, &page); err != nil || page.WorkflowRuns == nil {
			return false, fmt.Errorf("actions/workflows/deploy.yml/runs: no workflow_runs in the answer (%v)", err)
		}
		for _, r := range *page.WorkflowRuns {
			// The API's filters are re-checked here: the gate trusts what it has read, not what it asked for.
			if (r.Event != "workflow_run" && r.Event != "workflow_dispatch") || r.HeadBranch != "main" ||
				!isWorkflowFile(r.Path, DeployWorkflow) || r.WorkflowID != wf.ID || r.HeadRepository.FullName != c.Repo ||
				!fullSHA.MatchString(r.HeadSHA) {
				continue
			}
			ok, err := c.jobSucceeded(ctx, r.ID, environment)
			if err != nil {
				return false, err
			}
			if ok {
				found = r.HeadSHA
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", refuse("no run of %s on main has a successful %s job", DeployWorkflow, environment)
	}
	head, err := c.MainHead(ctx)
	if err != nil {
		return "", err
	}
	onMain, err := c.IsAncestor(ctx, found, head)
	if err != nil {
		return "", err
	}
	if !onMain {
		return "", refuse("the newest successful %s job deployed %s, which is not on %s", environment, found, Branch)
	}
	return found, nil
}

// jobSucceeded says whether the latest attempt of run id has a job named name that concluded success.
func (c *Client) jobSucceeded(ctx context.Context, id int64, name string) (bool, error) {
	ok := false
	err := c.list(ctx, fmt.Sprintf("/actions/runs/%d/jobs", id), url.Values{"per_page": {"100"}},
		func(body json.RawMessage) (bool, error) {
			var page struct {
				Jobs *[]struct {
					Name       string `json:"name"`
					Conclusion string `json:"conclusion"`
				} `json:"jobs"`
			}
			if err := json.Unmarshal(body, &page); err != nil || page.Jobs == nil {
				return false, fmt.Errorf("actions/runs/%d/jobs: no jobs in the answer (%v)", id, err)
			}
			for _, j := range *page.Jobs {
				if j.Name == name && j.Conclusion == "success" {
					ok = true
					return true, nil
				}
			}
			return false, nil
		})
	return ok, err
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
