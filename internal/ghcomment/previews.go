package ghcomment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Run is the workflow run whose previews are posted, as GitHub's workflow_run event describes it. The run's
// artifacts come from pull request code (a fork's, too) and are never trusted to say which pull request they
// belong to or what ran with cloud credentials; the event's head SHA and head repository are.
type Run struct {
	// HeadSHA is workflow_run.head_sha: the commit the previews were made from. Required, 40 hex digits.
	HeadSHA string
	// HeadRepo is workflow_run.head_repository.full_name: where that commit lives (a fork's owner/name). Required.
	HeadRepo string
	// HeadBranch is workflow_run.head_branch: the pull request's branch in HeadRepo. Required.
	HeadBranch string
	// URL is workflow_run.html_url, linked from the comment. Optional.
	URL string
}

// ErrNotCurrent says the run's commit is not the head of an open pull request (it was closed, or pushed to
// since): there is nothing to comment on, and a newer run will comment for the newer commit.
var ErrNotCurrent = errors.New("not the head of an open pull request")

var (
	fullSHA  = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	repoName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

func (r Run) validate() error {
	var errs []error
	if !fullSHA.MatchString(r.HeadSHA) {
		errs = append(errs, fmt.Errorf("-head-sha %q: not a 40-digit commit SHA", r.HeadSHA))
	}
	if !repoName.MatchString(r.HeadRepo) {
		errs = append(errs, fmt.Errorf("-head-repo %q: not owner/name", r.HeadRepo))
	}
	if r.HeadBranch == "" {
		errs = append(errs, errors.New("-head-branch: required"))
	}
	return errors.Join(errs...)
}

type pullRequest struct {
	Number int `json:"number"`
	Head   struct {
		SHA  string `json:"sha"`
		Repo *struct {
			FullName string `json:"full_name"`
		} `json:"repo"`
	} `json:"head"`
}

// PullRequest finds the open pull request of this repository whose head is exactly run's commit in run's head
// repository. It asks the API rather than reading workflow_run.pull_requests, which GitHub leaves empty for pull
// requests from forks (github/docs #22501, actions/runner #3444). It returns ErrNotCurrent when no open pull
// request has that head, and an error when two do (two pull requests from one branch to different bases: the
// run cannot say which of them it previewed).
func (c *Client) PullRequest(ctx context.Context, run Run) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	if err := run.validate(); err != nil {
		return 0, err
	}
	owner, _, _ := strings.Cut(run.HeadRepo, "/")
	q := url.Values{"state": {"open"}, "head": {owner + ":" + run.HeadBranch}, "per_page": {"100"}}
	var list []pullRequest
	if err := c.wrap(c.rest().Get(ctx, "/pulls", q, &list)); err != nil {
		return 0, err
	}
	var found []int
	var moved []string
	for _, pr := range list {
		if pr.Head.Repo == nil || !strings.EqualFold(pr.Head.Repo.FullName, run.HeadRepo) {
			continue
		}
		if !strings.EqualFold(pr.Head.SHA, run.HeadSHA) {
			moved = append(moved, fmt.Sprintf("#%d is at %s", pr.Number, short(pr.Head.SHA)))
			continue
		}
		found = append(found, pr.Number)
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return 0, fmt.Errorf("comment: pull requests %v all have head %s in %s; not guessing which one was previewed",
			found, short(run.HeadSHA), run.HeadRepo)
	case len(moved) > 0:
		return 0, fmt.Errorf("%w: %s:%s moved on from %s (%s)", ErrNotCurrent, run.HeadRepo, run.HeadBranch,
			short(run.HeadSHA), strings.Join(moved, ", "))
	}
	return 0, fmt.Errorf("%w: no open pull request from %s:%s", ErrNotCurrent, run.HeadRepo, run.HeadBranch)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// A preview file the preview workflow may leave, and the comment it becomes.
type previewFile struct {
	file, kind, title string
	// cloud marks the output of a job that ran with cloud credentials; only this repository's branches get one,
	// so from a fork such a file is a forgery and is ignored.
	cloud bool
}

// previewFiles is every file PostPreviews reads; anything else in the artifacts is ignored.
var previewFiles = []previewFile{
	{"offline-staging.txt", "offline-staging", "Offline preview and policy gate: staging", false},
	{"offline-production.txt", "offline-production", "Offline preview and policy gate: production", false},
	{"cloud-staging.txt", "cloud-staging", "pulumi preview --diff: staging (read-only preview role)", true},
}

// maxRead bounds what is read of one preview file; a comment holds far less.
const maxRead = 1 << 20

// readPreview reads a regular file of at most maxRead bytes; missing is ("", false, nil).
func readPreview(path string) (string, bool, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if !info.Mode().IsRegular() {
		return "", false, fmt.Errorf("%s: not a regular file", filepath.Base(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer func() { _ = f.Close() }() // read-only
	raw, err := io.ReadAll(io.LimitReader(f, maxRead))
	return string(raw), true, err
}

// PostPreviews posts each preview file found in dir (the preview run's artifacts) as its own comment on the pull
// request whose head is run's commit, stamped with that commit. Cloud previews count only when the head
// repository is this repository. A run that is no longer the pull request's head posts nothing.
func (c *Client) PostPreviews(ctx context.Context, dir string, run Run, w io.Writer) error {
	pr, err := c.PullRequest(ctx, run)
	if errors.Is(err, ErrNotCurrent) {
		fmt.Fprintf(w, "nothing to comment on: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	sameRepo := strings.EqualFold(run.HeadRepo, c.Repo)
	posted := 0
	var errs []error
	for _, f := range previewFiles {
		content, ok, err := readPreview(filepath.Join(dir, f.file))
		if err != nil {
			errs = append(errs, fmt.Errorf("comment %s: %w", f.kind, err))
			continue
		}
		if !ok {
			continue
		}
		if f.cloud && !sameRepo {
			fmt.Fprintf(w, "ignoring %s: the head is in %s, and only this repository's branches get a cloud preview\n",
				f.file, run.HeadRepo)
			continue
		}
		id, err := c.Upsert(ctx, pr, f.kind, Body(f.title, run.HeadSHA, run.URL, content))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		posted++
		fmt.Fprintf(w, "comment %d (%s) on #%d is current for %s\n", id, f.kind, pr, short(run.HeadSHA))
	}
	if posted == 0 && len(errs) == 0 {
		fmt.Fprintf(w, "no preview files in %s\n", dir)
	}
	return errors.Join(errs...)
}

// maxContent bounds the preview text in a comment, leaving room for the title, the stamp and the fences.
const maxContent = MaxBody - 2048

var backticks = regexp.MustCompile("`+")

// Body formats a comment: the title, the commit it describes (and the run, when runURL is an https URL), and the
// content as a code block whose fence is longer than any run of backticks in it, so that pull request output
// cannot close the block and write its own Markdown into a comment posted under the workflow's name.
func Body(title, sha, runURL, content string) string {
	content = strings.TrimRight(content, "\n")
	if n := utf8.RuneCountInString(content); n > maxContent {
		content = string([]rune(content)[:maxContent]) + "\n… cut to fit GitHub's comment limit; the full output is in the workflow run's log."
	}
	fence := "```"
	for _, run := range backticks.FindAllString(content, -1) {
		if len(run) >= len(fence) {
			fence = strings.Repeat("`", len(run)+1)
		}
	}
	var b strings.Builder
	b.WriteString("**" + title + "**")
	if sha != "" {
		b.WriteString(" · commit `" + sha + "`")
	}
	if strings.HasPrefix(runURL, "https://") && !strings.ContainsAny(runURL, " ()[]<>\n") {
		b.WriteString(" · [run](" + runURL + ")")
	}
	b.WriteString("\n\n" + fence + "text\n" + content + "\n" + fence + "\n")
	return b.String()
}
