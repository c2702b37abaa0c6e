// Package notify tells the team what a deploy, a drift check or the reaper did: a Markdown report for the job
// summary ($GITHUB_STEP_SUMMARY) with the preview or diff, the outputs and the boot timeline, and a short message
// to a Slack-compatible incoming webhook ({"text": …}, which Slack, Mattermost and Rocket.Chat accept).
//
// The webhook URL is a credential (whoever has it can post to the channel): it is read from the environment only,
// and no error or log line carries it.
//
// The message is sent here rather than by the maintained slackapi/slack-github-action (v4.0.0, commit
// dcb1066f776dd043e64d0e8ba94ca15cc7e1875d, Node 24: inputs webhook and webhook-type incoming-webhook or
// webhook-trigger, payload, errors, retries; its action.yml at that tag, and
// https://docs.slack.dev/tools/slack-github-action/sending-techniques/sending-data-slack-incoming-webhook):
//   - the report is written here in any case (the action writes no job summary), and the chat line is made from
//     the same Message, so one step writes both from one source;
//   - the webhook URL stays in code built from this repository with the standard library, instead of going to a
//     third-party JavaScript action and its npm dependencies in every deploy job, production's included;
//   - Send refuses a URL that is not https and keeps the URL and its secret path out of every error, and retries
//     429 and 5xx answers; the tests check all of it offline;
//   - -chat failure (the drift check) is one flag, not status logic repeated in each step's if:;
//   - {"text": …} reaches Slack, Mattermost and Rocket.Chat incoming webhooks alike; the action's incoming-webhook
//     technique is documented for Slack's.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Statuses a message may report: GitHub's job.status values, and a drift check's results.
var Statuses = []string{"success", "failure", "cancelled", "skipped", "drift", "error"}

var icons = map[string]struct{ chat, markdown string }{
	"success":   {":white_check_mark:", "✅"},
	"failure":   {":x:", "❌"},
	"cancelled": {":heavy_minus_sign:", "⏹️"},
	"skipped":   {":heavy_minus_sign:", "⏭️"},
	"drift":     {":warning:", "⚠️"},
	"error":     {":x:", "❌"},
}

// Bad reports whether status is one the team must hear about when a notification is sent only on trouble.
func Bad(status string) bool { return status != "success" && status != "skipped" }

// Section is one block of a report: a title and its text, or why there is none.
type Section struct {
	// Title names the block, such as "Outputs". Required.
	Title string
	// Text is the block's content, shown as preformatted text.
	Text string
	// Missing, when Text is empty, says why (the step that writes it did not run).
	Missing string
}

// Message is one report.
type Message struct {
	// Title says what happened to what, such as "deploy staging". Required.
	Title string
	// Status is one of Statuses. Required.
	Status string
	// Commit is the commit deployed or checked. Optional.
	Commit string
	// Run is the workflow run's URL. Optional.
	Run string
	// URL is the environment's URL (the first service). Optional.
	URL string
	// Sections follow the heading, in order.
	Sections []Section
}

// SummaryBudget is what Markdown writes at most: GitHub refuses a step summary over 1 MiB ("$GITHUB_STEP_SUMMARY
// upload aborted, supports content up to a size of 1024k"), and then the whole report would be lost.
const SummaryBudget = 1000 * 1024

// ChatBudget bounds the chat message; a chat is read on a phone, the summary holds the rest.
const ChatBudget = 3000

var backticks = regexp.MustCompile("`+")

// fence returns a code fence longer than any run of backticks in text.
func fence(text string) string {
	f := "```"
	for _, run := range backticks.FindAllString(text, -1) {
		if len(run) >= len(f) {
			f = strings.Repeat("`", len(run)+1)
		}
	}
	return f
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// tail keeps the last max bytes of text, on a line boundary, saying how much it left out.
func tail(text string, max int) string {
	if len(text) <= max {
		return text
	}
	cut := text[len(text)-max:]
	if i := strings.IndexByte(cut, '\n'); i >= 0 && i < len(cut)-1 {
		cut = cut[i+1:]
	}
	for !utf8.ValidString(cut) && len(cut) > 0 {
		cut = cut[1:]
	}
	return fmt.Sprintf("… %d bytes before this cut\n", len(text)-len(cut)) + cut
}

func safeLink(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" &&
		!strings.ContainsAny(u, " ()<>|\n")
}

// Markdown renders m for the job summary, within SummaryBudget: each section in a collapsible block (open when
// short), cut from the front when the budget runs out, since a log's end says how it finished.
func (m Message) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s %s: %s\n\n", icons[m.Status].markdown, m.Title, m.Status)
	var facts []string
	if m.Commit != "" {
		facts = append(facts, "commit `"+m.Commit+"`")
	}
	if safeLink(m.Run) {
		facts = append(facts, "[workflow run]("+m.Run+")")
	}
	if safeLink(m.URL) {
		facts = append(facts, "environment: "+m.URL)
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · ") + "\n\n")
	}
	for i, s := range m.Sections {
		left := SummaryBudget - b.Len() - 512*(len(m.Sections)-i)
		text := strings.TrimRight(s.Text, "\n")
		if text == "" {
			fmt.Fprintf(&b, "**%s**: %s\n\n", s.Title, or(s.Missing, "empty"))
			continue
		}
		text = tail(text, max(left/(len(m.Sections)-i), 256))
		open := ""
		if strings.Count(text, "\n") < 200 {
			open = " open"
		}
		f := fence(text)
		fmt.Fprintf(&b, "<details%s><summary>%s</summary>\n\n%stext\n%s\n%s\n\n</details>\n\n", open, s.Title, f, text, f)
	}
	return b.String()
}

func or(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}

// escapeChat escapes what Slack's mrkdwn reads as control characters (&, <, >).
func escapeChat(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Chat renders m as a short chat message within ChatBudget: the heading with links, then the end of each
// section while room is left.
func (m Message) Chat() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s *%s: %s*", icons[m.Status].chat, escapeChat(m.Title), m.Status)
	if m.Commit != "" {
		fmt.Fprintf(&b, " · commit `%s`", short(m.Commit))
	}
	if safeLink(m.Run) {
		fmt.Fprintf(&b, " · <%s|workflow run>", m.Run)
	}
	if safeLink(m.URL) {
		fmt.Fprintf(&b, " · <%s>", m.URL)
	}
	b.WriteString("\n")
	for _, s := range m.Sections {
		left := ChatBudget - b.Len() - len(s.Title) - 16
		if left < 200 {
			b.WriteString("… more in the job summary\n")
			break
		}
		text := strings.TrimRight(s.Text, "\n")
		if text == "" {
			fmt.Fprintf(&b, "*%s*: %s\n", escapeChat(s.Title), escapeChat(or(s.Missing, "empty")))
			continue
		}
		// Slack has no fence longer than three backticks; break up runs in the text instead.
		text = strings.ReplaceAll(escapeChat(tail(text, min(left, 800))), "```", "`\u200b``")
		fmt.Fprintf(&b, "*%s*\n```\n%s\n```\n", escapeChat(s.Title), text)
	}
	return b.String()
}

var (
	ansi     = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	timeline = regexp.MustCompile(`boot timeline (i-[0-9a-f]{8,17}): ([^\r\n]*)`)
)

// BootTimeline returns the boot script's "boot timeline <instance-id>: install=12s pull=8s … total=43s" lines
// found in a `pulumi up` log, once each, in order; Pulumi prints diagnostics both as they happen and again at
// the end, behind its own prefixes.
func BootTimeline(log string) []string {
	var out []string
	for _, m := range timeline.FindAllStringSubmatch(ansi.ReplaceAllString(log, ""), -1) {
		line := "boot timeline " + m[1] + ": " + strings.TrimSpace(m[2])
		if !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	return out
}

// Webhook posts to a Slack-compatible incoming webhook.
type Webhook struct {
	// URL is the webhook's https URL (a credential). Required.
	URL string
	// HTTP sends the request. Default: a client with a 10-second timeout.
	HTTP *http.Client
	// Attempts is how often a send is tried when the answer is 429, 5xx or no answer. Default 3.
	Attempts int
	// Backoff is the pause before the second attempt, doubled for each later one. Default defaultBackoff.
	Backoff time.Duration
}

// defaultBackoff is the first pause between attempts (2s, then 4s): long enough for a 503 to pass.
var defaultBackoff = 2 * time.Second

// ErrNotHTTPS refuses a webhook URL that would send the message, and the URL's secret path, in clear text.
var ErrNotHTTPS = errors.New("SLACK_WEBHOOK_URL is not an https URL")

// Send posts {"text": text}. Its errors never contain the URL.
func (w *Webhook) Send(ctx context.Context, text string) error {
	u, err := url.Parse(w.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ErrNotHTTPS
	}
	payload, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return err
	}
	client := w.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := max(w.Attempts, 1)
	if w.Attempts == 0 {
		attempts = 3
	}
	backoff := w.Backoff
	if backoff == 0 {
		backoff = defaultBackoff
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return w.scrub(ctx.Err())
			case <-time.After(backoff << (i - 1)):
			}
		}
		retry, err := w.post(ctx, client, payload)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

func (w *Webhook) post(ctx context.Context, client *http.Client, payload []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return false, w.scrub(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error prints the URL
		}
		return true, fmt.Errorf("the chat webhook did not answer: %w", w.scrub(err))
	}
	defer func() { _ = resp.Body.Close() }() // read-only
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	// The body is not printed: some services echo the request line back.
	return retry, fmt.Errorf("the chat webhook answered %s", resp.Status)
}

// scrub removes the URL, and its path (where the secret is), from an error's text.
func (w *Webhook) scrub(err error) error {
	msg := err.Error()
	if !strings.Contains(msg, w.URL) {
		if u, perr := url.Parse(w.URL); perr != nil || u.Path == "" || u.Path == "/" || !strings.Contains(msg, u.Path) {
			return err
		}
	}
	msg = strings.ReplaceAll(msg, w.URL, "[webhook]")
	if u, perr := url.Parse(w.URL); perr == nil && u.Path != "" && u.Path != "/" {
		msg = strings.ReplaceAll(msg, u.Path, "/[webhook path]")
	}
	return errors.New(msg)
}
