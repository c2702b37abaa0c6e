package notify

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// ErrUsage marks a command-line mistake.
var ErrUsage = errors.New("usage")

// Usage is the command line Command accepts.
const Usage = `notify -title "deploy staging" -status success|failure|cancelled|skipped|drift|error
       [-url URL] [-commit SHA] [-section "Title=file" | "Title?=file"]... [-boot-timeline up.log] [-chat always|failure|never]`

type sections []string

func (s *sections) String() string     { return strings.Join(*s, ", ") }
func (s *sections) Set(v string) error { *s = append(*s, v); return nil }

// maxFile bounds what is read of one section's file; the summary holds 1 MiB in all.
const maxFile = 4 << 20

// readSection reads a section's file. An optional section (its title ends in "?") whose file does not exist is
// left out; a required one says it was not produced.
func readSection(title, path string) (Section, bool) {
	optional := strings.HasSuffix(title, "?")
	title = strings.TrimSuffix(title, "?")
	s := readFile(title, path)
	return s, !optional || s.Missing != notProduced
}

const notProduced = "not produced (the step that writes it did not run or failed first)"

func readFile(title, path string) Section {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Section{Title: title, Missing: notProduced}
	}
	if err != nil {
		return Section{Title: title, Missing: "unreadable: " + err.Error()}
	}
	defer func() { _ = f.Close() }() // read-only
	raw, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return Section{Title: title, Missing: "unreadable: " + err.Error()}
	}
	return Section{Title: title, Text: string(raw), Missing: "empty"}
}

// Command runs the notifier: it appends the report to $GITHUB_STEP_SUMMARY (when set) and, as -chat says, posts
// it to $SLACK_WEBHOOK_URL. With no webhook configured it prints a notice and succeeds: the webhook is optional. A
// webhook that fails is a warning, not a failure, so that a chat outage never turns a good deploy red; the
// summary still has the report. The run's URL comes from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID,
// the commit from -commit or GITHUB_SHA. client sends the webhook request (nil: the default).
func Command(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, client *http.Client) error {
	fs := flag.NewFlagSet("notify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	title := fs.String("title", "", "what happened to what, such as \"deploy staging\"")
	status := fs.String("status", "", "success, failure, cancelled, skipped, drift or error")
	envURL := fs.String("url", "", "the environment's URL")
	commit := fs.String("commit", getenv("GITHUB_SHA"), "the commit deployed or checked")
	chat := fs.String("chat", "always", "when to post to the webhook: always, failure (not success) or never")
	bootLog := fs.String("boot-timeline", "", "a pulumi up log to take the boot timeline lines from")
	var secs sections
	fs.Var(&secs, "section", "Title=file: a block of the report (repeatable); Title?=file leaves it out when file does not exist")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrUsage, err, Usage)
	}
	var errs []error
	if *title == "" {
		errs = append(errs, errors.New("-title: required"))
	}
	if !slices.Contains(Statuses, *status) {
		errs = append(errs, fmt.Errorf("-status %q: one of %s", *status, strings.Join(Statuses, ", ")))
	}
	if !slices.Contains([]string{"always", "failure", "never"}, *chat) {
		errs = append(errs, fmt.Errorf("-chat %q: always, failure or never", *chat))
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	m := Message{Title: *title, Status: *status, Commit: *commit, URL: *envURL}
	if *bootLog != "" {
		s := readFile("Boot timeline", *bootLog)
		if s.Text != "" {
			lines := BootTimeline(s.Text)
			s.Text = strings.Join(lines, "\n")
			s.Missing = "none in the log (no new host booted, or its boot did not report)"
		}
		m.Sections = append(m.Sections, s)
	}
	for _, spec := range secs {
		t, path, ok := strings.Cut(spec, "=")
		if !ok || t == "" || path == "" {
			errs = append(errs, fmt.Errorf("-section %q: want Title=file", spec))
			continue
		}
		if s, ok := readSection(t, path); ok {
			m.Sections = append(m.Sections, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w\n%s", ErrUsage, err, Usage)
	}
	if s, r, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); s != "" && r != "" && id != "" {
		m.Run = s + "/" + r + "/actions/runs/" + id
	}

	if path := getenv("GITHUB_STEP_SUMMARY"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("notify: the job summary: %w", err)
		}
		_, werr := io.WriteString(f, m.Markdown())
		if err := errors.Join(werr, f.Close()); err != nil {
			return fmt.Errorf("notify: the job summary: %w", err)
		}
	}

	switch {
	case *chat == "never", *chat == "failure" && !Bad(*status):
		fmt.Fprintf(stdout, "%s: %s (job summary only)\n", *title, *status)
		return nil
	case getenv("SLACK_WEBHOOK_URL") == "":
		fmt.Fprintf(stdout, "::notice title=notify::SLACK_WEBHOOK_URL is not set: %s: %s is in the job summary only\n",
			*title, *status)
		return nil
	}
	hook := &Webhook{URL: getenv("SLACK_WEBHOOK_URL"), HTTP: client}
	if err := hook.Send(ctx, m.Chat()); err != nil {
		fmt.Fprintf(stdout, "::warning title=notify::%s: %s was not posted to chat: %v\n", *title, *status, err)
		return nil
	}
	fmt.Fprintf(stdout, "%s: %s posted to chat\n", *title, *status)
	return nil
}
