// Package deploygate decides, from GitHub's own records, whether the deploy workflow may deploy a commit: the
// commit must be on the branch refs/heads/main (never merely under a ref *named* main: a tag may be named main
// too), have passed this repository's own .github/workflows/ci.yml on a push, and be main's current head, or,
// for production, a descendant of what production last ran, so that approving an older waiting run never rolls
// production back.
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
//   - GET /repos/{owner}/{repo}/deployments?environment=… and …/deployments/{id}/statuses list an environment's
//     deployments, newest first, and their states (https://docs.github.com/en/rest/deployments/deployments).
package deploygate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// CIWorkflow is the repository's CI workflow file, the only one whose runs may lead to a deploy.
const CIWorkflow = ".github/workflows/ci.yml"

// Branch is the only branch that deploys, as a full ref.
const Branch = "refs/heads/main"

// ErrRefused marks a commit the gate does not let through (as opposed to an API failure).
var ErrRefused = errors.New("refused")

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

// Client reads the repository's records through the GitHub REST API.
type Client struct {
	// API is the API's base URL ($GITHUB_API_URL). Required.
	API string
	// Token authorises the calls ($GITHUB_TOKEN: contents and actions read; deployments read for production).
	Token string
	// Repo is owner/name ($GITHUB_REPOSITORY). Required.
	Repo string
	// HTTP sends the requests. Default http.DefaultClient.
	HTTP *http.Client
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.API + "/repos/" + c.Repo + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer func() { _ = resp.Body.Close() }() // a read-only body: nothing to lose
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: the answer is not the documented JSON: %w", u, err)
	}
	return nil
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

// Deployed is the commit of the newest deployment to environment whose newest status is success, or "" when it
// has none.
func (c *Client) Deployed(ctx context.Context, environment string) (string, error) {
	var deployments []struct {
		ID  int64  `json:"id"`
		SHA string `json:"sha"`
	}
	if err := c.get(ctx, "/deployments", url.Values{"environment": {environment}, "per_page": {"30"}},
		&deployments); err != nil {
		return "", err
	}
	for _, d := range deployments {
		var statuses []struct {
			State string `json:"state"`
		}
		if err := c.get(ctx, fmt.Sprintf("/deployments/%d/statuses", d.ID), url.Values{"per_page": {"1"}},
			&statuses); err != nil {
			return "", err
		}
		if len(statuses) > 0 && statuses[0].State == "success" && fullSHA.MatchString(d.SHA) {
			return d.SHA, nil
		}
	}
	return "", nil
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
		case r.Path != CIWorkflow:
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

// Current checks, as the production job starts (after its approval, which may come long after the run began),
// that sha may still go to environment: it is on main and is either main's head or a descendant of the commit
// the environment's last successful deployment ran. An approval of an older waiting run is refused, so it
// cannot roll the environment back.
func (c *Client) Current(ctx context.Context, sha, environment string) error {
	if !fullSHA.MatchString(sha) {
		return refuse("%q is not a commit SHA", sha)
	}
	head, err := c.MainHead(ctx)
	if err != nil {
		return err
	}
	onMain, err := c.IsAncestor(ctx, sha, head)
	if err != nil {
		return err
	}
	if !onMain {
		return refuse("%s is not on %s (its head is %s)", sha, Branch, head)
	}
	if sha == head {
		return nil
	}
	deployed, err := c.Deployed(ctx, environment)
	if err != nil {
		return err
	}
	if deployed != "" {
		newer, err := c.IsAncestor(ctx, deployed, sha)
		if err != nil {
			return err
		}
		if newer {
			return nil
		}
	}
	return refuse("%s is neither main's head (%s) nor a descendant of what %s runs (%q): approve the newest "+
		"run instead; deploying this commit would roll %s back", sha, head, environment, deployed, environment)
}

// Running returns the commit of environment's newest successful deployment, which must be on main: the code
// that environment runs, for a job (the drift check) that may run only code the environment's approvers let
// through.
func (c *Client) Running(ctx context.Context, environment string) (string, error) {
	sha, err := c.Deployed(ctx, environment)
	if err != nil {
		return "", err
	}
	if sha == "" {
		return "", refuse("%s has no successful deployment", environment)
	}
	head, err := c.MainHead(ctx)
	if err != nil {
		return "", err
	}
	onMain, err := c.IsAncestor(ctx, sha, head)
	if err != nil {
		return "", err
	}
	if !onMain {
		return "", refuse("%s's newest successful deployment names %s, which is not on %s", environment, sha, Branch)
	}
	return sha, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
