package ghcomment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"appstack/internal/github"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePR is a pull request of o/r as the fake API holds it.
type fakePR struct {
	number   int
	state    string
	headRepo string // owner/name, "" when the fork was deleted
	branch   string
	sha      string
}

// fakeGitHub answers the calls ghcomment makes the way GitHub's REST API does: comments are written by the
// token's user (github-actions[bot], type Bot), list pages hold 100, and GET /pulls filters on state and on
// head=owner:branch (the head's label).
type fakeGitHub struct {
	mu       sync.Mutex
	comments map[int][]comment // by pull request number
	byID     map[int64]*comment
	nextID   int64
	pulls    []fakePR
	requests []string
}

func newFake() *fakeGitHub {
	return &fakeGitHub{comments: map[int][]comment{}, byID: map[int64]*comment{}}
}

// seed adds a comment written by login (of user type typ) to pull request pr.
func (f *fakeGitHub) seed(pr int, login, typ, body string) int64 {
	f.nextID++
	f.comments[pr] = append(f.comments[pr], comment{ID: f.nextID, Body: body, User: user{login, typ}})
	return f.nextID
}

func (f *fakeGitHub) body(id int64) string {
	for _, list := range f.comments {
		for _, c := range list {
			if c.ID == id {
				return c.Body
			}
		}
	}
	return ""
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	var in struct{ Body string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	var pr int
	var id int64
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/repos/o/r/pulls":
		q := r.URL.Query()
		out := []map[string]any{}
		for _, p := range f.pulls {
			owner, _, _ := strings.Cut(p.headRepo, "/")
			if q.Get("state") != "" && q.Get("state") != p.state {
				continue
			}
			if h := q.Get("head"); h != "" && h != owner+":"+p.branch {
				continue
			}
			var repo any
			if p.headRepo != "" {
				repo = map[string]any{"full_name": p.headRepo}
			}
			out = append(out, map[string]any{"number": p.number, "state": p.state,
				"head": map[string]any{"sha": p.sha, "ref": p.branch, "label": owner + ":" + p.branch, "repo": repo}})
		}
		_ = json.NewEncoder(w).Encode(out)
	case scan(r.URL.Path, "/repos/o/r/issues/%d/comments", &pr) && r.Method == http.MethodGet:
		list := f.comments[pr]
		start := 0
		if r.URL.Query().Get("page") == "2" {
			start = 100
		}
		end := min(start+100, len(list))
		_ = json.NewEncoder(w).Encode(list[min(start, end):end])
	case scan(r.URL.Path, "/repos/o/r/issues/%d/comments", &pr) && r.Method == http.MethodPost:
		id := f.seed(pr, Bot, "Bot", in.Body)
		_ = json.NewEncoder(w).Encode(comment{ID: id, Body: in.Body})
	case scan(r.URL.Path, "/repos/o/r/issues/comments/%d", &id) && r.Method == http.MethodPatch:
		for n, list := range f.comments {
			for i := range list {
				if list[i].ID != id {
					continue
				}
				if list[i].User.Login != Bot {
					// GitHub lets a token edit only what its user may edit; the bot is no maintainer.
					http.Error(w, `{"message":"Resource not accessible by integration"}`, http.StatusForbidden)
					return
				}
				f.comments[n][i].Body = in.Body
				_ = json.NewEncoder(w).Encode(f.comments[n][i])
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func scan[T any](path, format string, v *T) bool {
	n, err := fmt.Sscanf(path, format, v)
	return err == nil && n == 1 && fmt.Sprintf(format, *v) == path
}

func client(t *testing.T, f *fakeGitHub) *Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{Client: github.Client{API: srv.URL, Token: "tok", Repo: "o/r"}}
}

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestUpsertPostsThenEditsInPlace(t *testing.T) {
	f := newFake()
	c := client(t, f)
	for range 120 {
		f.seed(7, "someone", "User", "chatter")
	}
	id, err := c.Upsert(context.Background(), 7, "preview-staging", "first")
	require.NoError(t, err)
	assert.EqualValues(t, 121, id)
	again, err := c.Upsert(context.Background(), 7, "preview-staging", "second")
	require.NoError(t, err)
	assert.Equal(t, id, again, "the same comment is edited, even past the first page")
	assert.Equal(t, Marker("preview-staging")+"\nsecond", f.body(id))
	other, err := c.Upsert(context.Background(), 7, "preview-production", "prod")
	require.NoError(t, err)
	assert.NotEqual(t, id, other, "each kind has its own comment")
}

func TestUpsertEditsOnlyTheWorkflowBotsComments(t *testing.T) {
	f := newFake()
	c := client(t, f)
	marker := Marker("offline-staging")
	human := f.seed(7, "mallory", "User", marker+"\nno changes, approve away")
	otherBot := f.seed(7, "renovate[bot]", "Bot", marker+"\nsomething else")
	posing := f.seed(7, Bot, "User", marker+"\na user named like the bot") // type is what GitHub sets, not the name
	id, err := c.Upsert(context.Background(), 7, "offline-staging", "the real preview")
	require.NoError(t, err)
	assert.NotContains(t, []int64{human, otherBot, posing}, id, "a new comment, not someone else's")
	assert.Equal(t, marker+"\nno changes, approve away", f.body(human), "the human's comment is untouched")
	assert.Equal(t, marker+"\nsomething else", f.body(otherBot))
	assert.Equal(t, marker+"\nthe real preview", f.body(id))
	for _, r := range f.requests {
		assert.NotContains(t, r, "PATCH", "nothing was edited")
	}
	again, err := c.Upsert(context.Background(), 7, "offline-staging", "next push")
	require.NoError(t, err)
	assert.Equal(t, id, again, "the bot's own comment is edited next time")
}

func TestLongBodiesAreCutToGitHubsLimit(t *testing.T) {
	body := strings.Repeat("é", 70000)
	got := Fit(Marker("x"), body)
	assert.Equal(t, MaxBody, utf8.RuneCountInString(got))
	assert.True(t, strings.HasPrefix(got, Marker("x")), "the marker survives, so the next run still finds it")
	assert.True(t, strings.HasSuffix(got, "the full output is in the workflow run's log."))
	assert.Equal(t, Marker("x")+"\nshort", Fit(Marker("x"), "short"))

	long := Body("t", shaA, "", strings.Repeat("é", 70000))
	assert.LessOrEqual(t, utf8.RuneCountInString(Marker("x")+"\n"+long), MaxBody, "the code block closes inside the limit")
	assert.True(t, strings.HasSuffix(long, "log.\n```\n"))
}

func TestBodyStampsTheCommitAndKeepsOutputInsideItsBlock(t *testing.T) {
	got := Body("Offline preview", shaA, "https://github.com/o/r/actions/runs/5", "ok")
	assert.Equal(t, "**Offline preview** · commit `"+shaA+"` · [run](https://github.com/o/r/actions/runs/5)\n\n```text\nok\n```\n", got)
	evil := "x\n```\n**Approved by the maintainers** [click](https://evil.example)\n````"
	got = Body("p", shaA, "javascript:alert(1)", evil)
	assert.Contains(t, got, "\n`````text\n"+evil+"\n`````\n", "the fence is longer than any backtick run inside")
	assert.NotContains(t, got, "javascript:", "only an https run URL is linked")
}

func TestErrorsNameTheCall(t *testing.T) {
	f := newFake()
	c := client(t, f)
	c.Token = "wrong"
	_, err := c.Upsert(context.Background(), 7, "k", "b")
	assert.ErrorContains(t, err, "401 Unauthorized: {\"message\":\"Bad credentials\"}")
	_, err = (&Client{}).Upsert(context.Background(), 7, "k", "b")
	assert.ErrorContains(t, err, "token and owner/name")
}

// previewDir writes the files a preview run's artifacts hold, including a pr-number a fork can set to anything.
func previewDir(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

func TestThePullRequestComesFromTheRunNotTheArtifact(t *testing.T) {
	f := newFake()
	f.pulls = []fakePR{
		{number: 7, state: "open", headRepo: "fork/r", branch: "patch-1", sha: shaA},
		{number: 9, state: "open", headRepo: "o/r", branch: "release", sha: shaB},
		{number: 3, state: "closed", headRepo: "fork/r", branch: "patch-1", sha: shaA},
	}
	c := client(t, f)
	dir := previewDir(t, map[string]string{"pr-number": "9", "offline-staging.txt": "3 to create"})
	var out bytes.Buffer
	run := Run{HeadSHA: shaA, HeadRepo: "fork/r", HeadBranch: "patch-1", URL: "https://github.com/o/r/actions/runs/1"}
	require.NoError(t, c.PostPreviews(context.Background(), dir, run, &out))
	require.Len(t, f.comments[7], 1, "the fork's pull request gets the comment: %s", out.String())
	assert.Empty(t, f.comments[9], "the pr-number file in the artifact is not read")
	body := f.comments[7][0].Body
	assert.True(t, strings.HasPrefix(body, Marker("offline-staging")+"\n"))
	assert.Contains(t, body, "commit `"+shaA+"`", "the comment says which commit it describes")
	assert.Contains(t, body, "3 to create")
	assert.Contains(t, f.requests[0], "/repos/o/r/pulls?head=fork%3Apatch-1&per_page=100&state=open")
}

func TestCloudPreviewsCountOnlyFromThisRepository(t *testing.T) {
	files := map[string]string{"offline-staging.txt": "offline", "cloud-staging.txt": "no changes (forged)",
		"cloud-production.txt": "not a file the preview makes"}
	f := newFake()
	f.pulls = []fakePR{{number: 7, state: "open", headRepo: "fork/r", branch: "main", sha: shaA},
		{number: 8, state: "open", headRepo: "o/r", branch: "feature", sha: shaB}}
	c := client(t, f)
	var out bytes.Buffer
	require.NoError(t, c.PostPreviews(context.Background(), previewDir(t, files),
		Run{HeadSHA: shaA, HeadRepo: "fork/r", HeadBranch: "main"}, &out))
	require.Len(t, f.comments[7], 1)
	assert.Contains(t, f.comments[7][0].Body, Marker("offline-staging"))
	assert.Contains(t, out.String(), "ignoring cloud-staging.txt: the head is in fork/r")

	require.NoError(t, c.PostPreviews(context.Background(), previewDir(t, files),
		Run{HeadSHA: shaB, HeadRepo: "o/r", HeadBranch: "feature"}, &out))
	require.Len(t, f.comments[8], 2, "this repository's branch gets its cloud preview too")
	assert.Contains(t, f.comments[8][1].Body, Marker("cloud-staging"))
	for _, list := range f.comments {
		for _, c := range list {
			assert.NotContains(t, c.Body, "cloud-production", "files outside the known list are ignored")
		}
	}
}

func TestARunThatIsNoLongerTheHeadPostsNothing(t *testing.T) {
	f := newFake()
	f.pulls = []fakePR{{number: 7, state: "open", headRepo: "fork/r", branch: "patch-1", sha: shaB}}
	c := client(t, f)
	var out bytes.Buffer
	dir := previewDir(t, map[string]string{"offline-staging.txt": "old"})
	require.NoError(t, c.PostPreviews(context.Background(), dir,
		Run{HeadSHA: shaA, HeadRepo: "fork/r", HeadBranch: "patch-1"}, &out))
	assert.Empty(t, f.comments[7], "an older run must not overwrite the newer preview")
	assert.Contains(t, out.String(), "moved on from aaaaaaaaaaaa (#7 is at bbbbbbbbbbbb)")

	require.NoError(t, c.PostPreviews(context.Background(), dir,
		Run{HeadSHA: shaA, HeadRepo: "fork/r", HeadBranch: "gone"}, &out))
	assert.Contains(t, out.String(), "no open pull request from fork/r:gone")
}

func TestAmbiguousAndMalformedRunsAreRefused(t *testing.T) {
	f := newFake()
	f.pulls = []fakePR{{number: 7, state: "open", headRepo: "o/r", branch: "x", sha: shaA},
		{number: 8, state: "open", headRepo: "o/r", branch: "x", sha: shaA}}
	c := client(t, f)
	_, err := c.PullRequest(context.Background(), Run{HeadSHA: shaA, HeadRepo: "o/r", HeadBranch: "x"})
	assert.ErrorContains(t, err, "pull requests [7 8] all have head")
	_, err = c.PullRequest(context.Background(), Run{HeadSHA: "abc", HeadRepo: "o", HeadBranch: ""})
	assert.ErrorContains(t, err, `-head-sha "abc": not a 40-digit commit SHA`)
	assert.ErrorContains(t, err, `-head-repo "o": not owner/name`)
	assert.ErrorContains(t, err, "-head-branch: required")
	assert.Len(t, f.requests, 1, "a malformed run asks GitHub nothing")
}

func TestAPreviewThatIsNotARegularFileIsRefused(t *testing.T) {
	f := newFake()
	f.pulls = []fakePR{{number: 7, state: "open", headRepo: "o/r", branch: "x", sha: shaA}}
	c := client(t, f)
	dir := previewDir(t, map[string]string{"offline-production.txt": "fine"})
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "offline-staging.txt")))
	err := c.PostPreviews(context.Background(), dir, Run{HeadSHA: shaA, HeadRepo: "o/r", HeadBranch: "x"}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "comment offline-staging: offline-staging.txt: not a regular file")
	require.Len(t, f.comments[7], 1, "the other preview is still posted")
	assert.NotContains(t, f.comments[7][0].Body, "root:")
}

func TestCommand(t *testing.T) {
	f := newFake()
	f.pulls = []fakePR{{number: 7, state: "open", headRepo: "fork/r", branch: "patch-1", sha: shaA}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	env := map[string]string{"GITHUB_API_URL": srv.URL + "/", "GITHUB_TOKEN": "tok", "GITHUB_REPOSITORY": "o/r"}
	getenv := func(k string) string { return env[k] }
	dir := previewDir(t, map[string]string{"offline-staging.txt": "offline", "outputs.json": `{"url":"http://x"}`})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "needs -pr, -kind and -file, or -previews"},
		{[]string{"-pr", "7"}, "needs -pr, -kind and -file"},
		{[]string{"-previews", dir, "-pr", "7", "-head-sha", shaA}, "takes no -pr, -kind or -file"},
		{[]string{"-previews", dir, "-head-sha", "HEAD", "-head-repo", "fork/r", "-head-branch", "b"}, `-head-sha "HEAD"`},
		{[]string{"-pr", "7", "-kind", "k", "-file", "f", "-sha", "main"}, `-sha "main"`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-pr", "7", "extra"}, `unexpected arguments ["extra"]`},
	} {
		err := Command(context.Background(), tc.args, getenv, &bytes.Buffer{})
		assert.ErrorIs(t, err, ErrUsage, "%v", tc.args)
		assert.ErrorContains(t, err, tc.want)
	}
	assert.Empty(t, f.requests, "usage errors call no API")

	var out bytes.Buffer
	require.NoError(t, Command(context.Background(), []string{"-previews", dir, "-head-sha", shaA,
		"-head-repo", "fork/r", "-head-branch", "patch-1"}, getenv, &out))
	assert.Contains(t, out.String(), "(offline-staging) on #7 is current for aaaaaaaaaaaa")

	require.NoError(t, Command(context.Background(), []string{"-pr", "7", "-kind", "review-stack", "-file",
		filepath.Join(dir, "outputs.json"), "-sha", shaA, "-title", "Review stack pr-7"}, getenv, &out))
	require.Len(t, f.comments[7], 2)
	assert.Contains(t, f.comments[7][1].Body, "**Review stack pr-7** · commit `"+shaA+"`")
}
