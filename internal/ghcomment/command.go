package ghcomment

import (
	"context"
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
const Usage = `stackctl comment -pr N -kind K -file F [-sha SHA] [-title T]
stackctl comment -previews DIR -head-sha SHA -head-repo OWNER/NAME -head-branch BRANCH [-run-url URL]`

// Command runs `stackctl comment`. The first form posts or edits one comment on a pull request whose number the
// caller knows from its own pull_request event. The second posts the preview run's files found in DIR on the
// pull request derived from the run's head (see PostPreviews). The API URL, token and repository come from
// getenv: GITHUB_API_URL (default https://api.github.com), GITHUB_TOKEN and GITHUB_REPOSITORY.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stackctl comment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pr := fs.Int("pr", 0, "pull request number")
	kind := fs.String("kind", "", "which comment to post or edit, such as review-stack")
	file := fs.String("file", "", "file whose contents make the comment")
	sha := fs.String("sha", "", "commit the comment describes")
	title := fs.String("title", "", "the comment's title (default: the kind)")
	previews := fs.String("previews", "", "directory of the preview run's artifacts")
	var run Run
	fs.StringVar(&run.HeadSHA, "head-sha", "", "workflow_run.head_sha")
	fs.StringVar(&run.HeadRepo, "head-repo", "", "workflow_run.head_repository.full_name")
	fs.StringVar(&run.HeadBranch, "head-branch", "", "workflow_run.head_branch")
	fs.StringVar(&run.URL, "run-url", "", "workflow_run.html_url")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrUsage, err, Usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q\n%s", ErrUsage, fs.Args(), Usage)
	}
	c := &Client{Client: github.FromEnv(getenv)}
	single := *pr != 0 || *kind != "" || *file != ""
	switch {
	case *previews != "" && single:
		return fmt.Errorf("%w: -previews derives the pull request from the run; it takes no -pr, -kind or -file\n%s",
			ErrUsage, Usage)
	case *previews != "":
		if err := run.validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		return c.PostPreviews(ctx, *previews, run, stdout)
	case *pr <= 0 || *kind == "" || *file == "":
		return fmt.Errorf("%w: stackctl comment needs -pr, -kind and -file, or -previews\n%s", ErrUsage, Usage)
	}
	if *sha != "" && !fullSHA.MatchString(*sha) {
		return fmt.Errorf("%w: -sha %q: not a 40-digit commit SHA", ErrUsage, *sha)
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("comment: %w", err)
	}
	if *title == "" {
		*title = *kind
	}
	id, err := c.Upsert(ctx, *pr, *kind, Body(*title, *sha, "", string(body)))
	if err == nil {
		fmt.Fprintf(stdout, "comment %d on #%d is current\n", id, *pr)
	}
	return err
}
