package deploygate

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"appstack/internal/github"
)

// ErrUsage marks a command-line mistake.
var ErrUsage = errors.New("usage")

// Usage is the command line Command accepts.
const Usage = `deploygate admit                                   print the commit this deploy run may deploy
deploygate current -sha SHA -environment production  refuse a commit that is no longer main's head
deploygate running -environment production           print the commit the environment's last successful deploy.yml job deployed`

// Command runs deploygate. It reads GITHUB_API_URL (default https://api.github.com), GITHUB_TOKEN,
// GITHUB_REPOSITORY, and for admit GITHUB_EVENT_NAME, GITHUB_EVENT_PATH (the event's payload), GITHUB_REF and
// GITHUB_SHA, all as GitHub Actions sets them. admit prints the commit on stdout.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no subcommand\n%s", ErrUsage, Usage)
	}
	fs := flag.NewFlagSet("deploygate "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sha := fs.String("sha", "", "the commit about to be deployed (current)")
	environment := fs.String("environment", "", "the GitHub environment it goes to (current)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrUsage, err, Usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q\n%s", ErrUsage, fs.Args(), Usage)
	}
	c := &Client{github.FromEnv(getenv)}
	if !repoName.MatchString(c.Repo) {
		return fmt.Errorf("%w: GITHUB_REPOSITORY %q: not owner/name", ErrUsage, c.Repo)
	}
	if c.Token == "" {
		return fmt.Errorf("%w: GITHUB_TOKEN: not set", ErrUsage)
	}
	switch args[0] {
	case "admit":
		e, err := readEvent(getenv)
		if err != nil {
			return err
		}
		got, err := c.Admit(ctx, e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, got)
		return err
	case "current":
		if *sha == "" || *environment == "" {
			return fmt.Errorf("%w: deploygate current needs -sha and -environment\n%s", ErrUsage, Usage)
		}
		if err := c.Current(ctx, *sha, *environment); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s may go to %s\n", *sha, *environment)
		return err
	case "running":
		if *environment == "" {
			return fmt.Errorf("%w: deploygate running needs -environment\n%s", ErrUsage, Usage)
		}
		got, err := c.Running(ctx, *environment)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, got)
		return err
	}
	return fmt.Errorf("%w: unknown subcommand %q\n%s", ErrUsage, args[0], Usage)
}

// readEvent reads the event from the environment and, for workflow_run, its payload.
func readEvent(getenv func(string) string) (Event, error) {
	e := Event{Name: getenv("GITHUB_EVENT_NAME"), Ref: getenv("GITHUB_REF"), SHA: getenv("GITHUB_SHA")}
	if e.Name != "workflow_run" {
		return e, nil
	}
	path := getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return e, fmt.Errorf("%w: GITHUB_EVENT_PATH: not set", ErrUsage)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("GITHUB_EVENT_PATH: %w", err)
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("GITHUB_EVENT_PATH %s: %w", path, err)
	}
	return e, nil
}
