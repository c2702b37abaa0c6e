package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The secret part of a Slack webhook URL is its path, as in https://hooks.slack.com/services/T…/B…/<token>.
const secretPath = "/services/T000/B000/s3cr3t-t0ken"

// chatServer stands in for a Slack incoming webhook: POST of application/json {"text": …} to the secret path
// answers 200 "ok"; anything else answers as Slack does for a bad request or an unknown hook.
type chatServer struct {
	mu       sync.Mutex
	texts    []string
	failures atomic.Int32 // answer 503 this many times first
}

func (c *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.failures.Add(-1) >= 0 {
		http.Error(w, "service unavailable at "+r.URL.Path, http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != secretPath {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	var in struct{ Text string }
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		json.NewDecoder(r.Body).Decode(&in) != nil || in.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.texts = append(c.texts, in.Text)
	c.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func newChat(t *testing.T) (*chatServer, *httptest.Server) {
	c := &chatServer{}
	srv := httptest.NewTLSServer(c)
	t.Cleanup(srv.Close)
	return c, srv
}

func TestSendPostsSlackCompatibleJSON(t *testing.T) {
	chat, srv := newChat(t)
	w := &Webhook{URL: srv.URL + secretPath, HTTP: srv.Client()}
	require.NoError(t, w.Send(context.Background(), "deployed"))
	assert.Equal(t, []string{"deployed"}, chat.texts)
}

func TestTheWebhookURLIsNeverInAnError(t *testing.T) {
	chat, srv := newChat(t)
	chat.failures.Store(100)
	w := &Webhook{URL: srv.URL + secretPath, HTTP: srv.Client(), Attempts: 2, Backoff: time.Millisecond}
	err := w.Send(context.Background(), "x")
	require.Error(t, err)
	assert.Equal(t, "the chat webhook answered 503 Service Unavailable", err.Error(), "the echoing body is not printed")

	srv.Close()
	err = w.Send(context.Background(), "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the chat webhook did not answer")
	assert.NotContains(t, err.Error(), "s3cr3t")

	bad := &Webhook{URL: "http://hooks.example" + secretPath}
	assert.ErrorIs(t, bad.Send(context.Background(), "x"), ErrNotHTTPS, "plain http would send the secret in clear")
	assert.NotContains(t, ErrNotHTTPS.Error(), "s3cr3t")

	scrubbed := (&Webhook{URL: "https://h.example" + secretPath}).scrub(
		&json.UnsupportedValueError{Str: "Post https://h.example" + secretPath + " and " + secretPath})
	assert.NotContains(t, scrubbed.Error(), "s3cr3t")
}

func TestSendRetriesOnlyWhatMaySucceedLater(t *testing.T) {
	chat, srv := newChat(t)
	chat.failures.Store(2)
	w := &Webhook{URL: srv.URL + secretPath, HTTP: srv.Client(), Backoff: time.Millisecond}
	require.NoError(t, w.Send(context.Background(), "third time"), "503 twice, then ok")
	assert.Equal(t, []string{"third time"}, chat.texts)

	var calls atomic.Int32
	gone := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "no_service", http.StatusNotFound)
	}))
	defer gone.Close()
	err := (&Webhook{URL: gone.URL + secretPath, HTTP: gone.Client(), Backoff: time.Millisecond}).Send(context.Background(), "x")
	assert.EqualError(t, err, "the chat webhook answered 404 Not Found")
	assert.EqualValues(t, 1, calls.Load(), "a revoked hook is not retried")
}

func TestBootTimelineIsFoundBehindPulumisPrefixesOnce(t *testing.T) {
	log := strings.Join([]string{
		"Updating (staging):",
		"    pulumi:pulumi:Stack appstack-staging  boot timeline i-0123456789abcdef0: install=12s pull=8s start=3s total=43s",
		"\x1b[32m+ \x1b[0maws:ec2:Instance host-instance created",
		"Diagnostics:",
		"  pulumi:pulumi:Stack (appstack-staging):",
		"    boot timeline i-0123456789abcdef0: install=12s pull=8s start=3s total=43s\r",
		"    boot timeline i-0fedcba9876543210: install=0s pull=5s total=9s",
		"boot timeline of nothing: x",
	}, "\n")
	assert.Equal(t, []string{
		"boot timeline i-0123456789abcdef0: install=12s pull=8s start=3s total=43s",
		"boot timeline i-0fedcba9876543210: install=0s pull=5s total=9s",
	}, BootTimeline(log))
	assert.Empty(t, BootTimeline("no host was replaced"))
}

func TestMarkdownFitsTheStepSummaryAndKeepsTheEnd(t *testing.T) {
	huge := strings.Repeat("resource line\n", 200000) + "Resources: 3 changed\n"
	m := Message{Title: "deploy production", Status: "failure", Commit: "abc", Run: "https://github.com/o/r/actions/runs/1",
		URL: "http://203.0.113.10:8080/", Sections: []Section{
			{Title: "Changes", Text: huge},
			{Title: "Outputs", Text: `{"publicIp": "203.0.113.10"}`},
			{Title: "Smoke test", Missing: "not produced"},
			{Title: "Fenced", Text: "a ``` b ```` c"},
		}}
	md := m.Markdown()
	assert.LessOrEqual(t, len(md), SummaryBudget)
	assert.True(t, strings.HasPrefix(md, "### ❌ deploy production: failure\n\ncommit `abc` · [workflow run](https://github.com/o/r/actions/runs/1) · environment: http://203.0.113.10:8080/\n"))
	assert.Contains(t, md, "Resources: 3 changed", "the end of a long log survives the cut")
	assert.Contains(t, md, "bytes before this cut")
	assert.Contains(t, md, "<details open><summary>Outputs</summary>\n\n```text\n{\"publicIp\": \"203.0.113.10\"}\n```")
	assert.Contains(t, md, "**Smoke test**: not produced")
	assert.Contains(t, md, "`````text\na ``` b ```` c\n`````", "output cannot close its block")
}

func TestChatIsShortEscapedAndLinked(t *testing.T) {
	m := Message{Title: "drift production", Status: "drift", Commit: "0123456789abcdef0123", Run: "https://github.com/o/r/actions/runs/1",
		Sections: []Section{{Title: "Drift", Text: strings.Repeat("x", 10000) + "\n~ aws:ec2:SecurityGroup <changed> & ```more```"},
			{Title: "Outputs", Text: strings.Repeat("y\n", 5000)}, {Title: "Third", Text: strings.Repeat("z\n", 500)},
			{Title: "Fourth", Text: strings.Repeat("w\n", 500)}, {Title: "Fifth", Text: strings.Repeat("v\n", 500)},
			{Title: "Sixth", Text: "u"}}}
	text := m.Chat()
	assert.LessOrEqual(t, len(text), ChatBudget+200)
	assert.True(t, strings.HasPrefix(text, ":warning: *drift production: drift* · commit `0123456789ab` · <https://github.com/o/r/actions/runs/1|workflow run>\n"))
	assert.Contains(t, text, "&lt;changed&gt; &amp; `\u200b``more`\u200b``\n```\n", "Slack control characters are escaped")
	assert.Contains(t, text, "… more in the job summary")
	assert.NotContains(t, text, "*Sixth*")
}

// env is a GitHub Actions environment for Command.
func env(t *testing.T, vars map[string]string) (func(string) string, string) {
	summary := filepath.Join(t.TempDir(), "summary.md")
	base := map[string]string{"GITHUB_STEP_SUMMARY": summary, "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567"}
	for k, v := range vars {
		base[k] = v
	}
	return func(k string) string { return base[k] }, summary
}

func TestCommandWithoutAWebhookWritesTheSummaryAndANotice(t *testing.T) {
	dir := t.TempDir()
	up := filepath.Join(dir, "up.log")
	require.NoError(t, os.WriteFile(up, []byte("  boot timeline i-0123456789abcdef0: install=12s pull=8s total=43s\n"), 0o600))
	outputs := filepath.Join(dir, "outputs.json")
	require.NoError(t, os.WriteFile(outputs, []byte(`{"serviceUrls":{"web":"http://203.0.113.10:8080/"}}`), 0o600))
	getenv, summary := env(t, nil)
	var out bytes.Buffer
	require.NoError(t, Command(context.Background(), []string{"-title", "deploy staging", "-status", "success",
		"-url", "http://203.0.113.10:8080/", "-boot-timeline", up, "-section", "Outputs=" + outputs,
		"-section", "Smoke test=" + filepath.Join(dir, "smoke.txt"), "-section", "Rollback?=" + filepath.Join(dir, "rollback.txt")},
		getenv, &out, nil))
	assert.Equal(t, "::notice title=notify::SLACK_WEBHOOK_URL is not set: deploy staging: success is in the job summary only\n", out.String())
	md, err := os.ReadFile(summary)
	require.NoError(t, err)
	assert.Contains(t, string(md), "### ✅ deploy staging: success")
	assert.Contains(t, string(md), "[workflow run](https://github.com/o/r/actions/runs/42)")
	assert.Contains(t, string(md), "<summary>Boot timeline</summary>\n\n```text\nboot timeline i-0123456789abcdef0: install=12s pull=8s total=43s\n```")
	assert.Contains(t, string(md), "serviceUrls")
	assert.Contains(t, string(md), "**Smoke test**: not produced")
	assert.NotContains(t, string(md), "Rollback", "an optional section without its file is left out")
}

func TestCommandPostsToTheWebhookAndNeverPrintsIt(t *testing.T) {
	defaultBackoff = time.Millisecond
	t.Cleanup(func() { defaultBackoff = 2 * time.Second })
	chat, srv := newChat(t)
	getenv, _ := env(t, map[string]string{"SLACK_WEBHOOK_URL": srv.URL + secretPath})
	var out bytes.Buffer
	require.NoError(t, Command(context.Background(), []string{"-title", "reap", "-status", "failure"}, getenv, &out, srv.Client()))
	require.Len(t, chat.texts, 1)
	assert.Contains(t, chat.texts[0], ":x: *reap: failure*")
	assert.Equal(t, "reap: failure posted to chat\n", out.String())

	out.Reset()
	require.NoError(t, Command(context.Background(), []string{"-title", "reap", "-status", "success", "-chat", "failure"},
		getenv, &out, srv.Client()))
	assert.Len(t, chat.texts, 1, "-chat failure keeps a success out of the channel")

	chat.failures.Store(100)
	out.Reset()
	require.NoError(t, Command(context.Background(), []string{"-title", "deploy production", "-status", "failure"},
		getenv, &out, srv.Client()), "a chat outage does not fail the job")
	assert.Contains(t, out.String(), "::warning title=notify::deploy production: failure was not posted to chat: the chat webhook answered 503")
	assert.NotContains(t, out.String(), "s3cr3t")
	assert.NotContains(t, out.String(), srv.URL)
}

func TestCommandLineMistakesNameTheFlag(t *testing.T) {
	getenv, summary := env(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-title: required"},
		{[]string{"-title", "x", "-status", "succeeded"}, `-status "succeeded": one of success, failure`},
		{[]string{"-title", "x", "-status", "success", "-chat", "sometimes"}, `-chat "sometimes"`},
		{[]string{"-title", "x", "-status", "success", "-section", "Outputs"}, `-section "Outputs": want Title=file`},
		{[]string{"-title", "x", "-status", "success", "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-webhook", "https://x"}, "flag provided but not defined: -webhook"},
	} {
		err := Command(context.Background(), tc.args, getenv, io.Discard, nil)
		assert.ErrorIs(t, err, ErrUsage, "%v", tc.args)
		assert.ErrorContains(t, err, tc.want)
	}
	_, err := os.Stat(summary)
	assert.ErrorIs(t, err, os.ErrNotExist, "a wrong command line writes no half report")
}
