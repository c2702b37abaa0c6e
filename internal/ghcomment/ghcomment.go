// Package ghcomment posts a pull request comment and edits it in place on later runs, so a pull request carries
// one current preview rather than one comment per push. Bodies are cut to fit GitHub's 65,536-character limit
// (the failure pulumi/actions #482 hit), saying so at the end.
//
// It edits only comments written by the workflow's own bot (github-actions[bot], user type Bot): anyone can write a
// comment that starts with the marker, and editing theirs would put the preview under their name or let them pin
// what the preview says.
//
// The REST calls go through internal/github, the client internal/deploygate uses too.
package ghcomment

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"appstack/internal/github"
)

// MaxBody is GitHub's limit on a comment body, in characters.
const MaxBody = 65536

// Bot is the login of the user GitHub Actions' GITHUB_TOKEN writes comments as.
const Bot = "github-actions[bot]"

// Client talks to the GitHub REST API.
type Client struct {
	// Client is the API, token (with pull-requests: write) and repository, all required.
	github.Client
	// Author is the login whose comments Upsert may edit; it must also be of user type Bot. Default Bot.
	Author string
}

type user struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

type comment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	User user   `json:"user"`
}

// Marker is the hidden line that identifies a comment of one kind (one per stack and tool).
func Marker(kind string) string { return "<!-- appstack:" + kind + " -->" }

// Fit cuts body to MaxBody characters with its marker kept first and a note that says it was cut.
func Fit(marker, body string) string {
	full := marker + "\n" + body
	if utf8.RuneCountInString(full) <= MaxBody {
		return full
	}
	note := "\n\n… cut to fit GitHub's comment limit; the full output is in the workflow run's log."
	keep := MaxBody - utf8.RuneCountInString(note)
	runes := []rune(full)
	return string(runes[:keep]) + note
}

func (c *Client) check() error {
	if c.API == "" || c.Token == "" || c.Repo == "" || !strings.Contains(c.Repo, "/") {
		return fmt.Errorf("comment: the API URL, a token and owner/name of the repository are required " +
			"(GITHUB_API_URL, GITHUB_TOKEN, GITHUB_REPOSITORY)")
	}
	return nil
}

func (c *Client) author() string {
	if c.Author != "" {
		return c.Author
	}
	return Bot
}

// ours reports whether cm is a comment of this kind written by the workflow's own bot.
func (c *Client) ours(cm comment, marker string) bool {
	return cm.User.Login == c.author() && cm.User.Type == "Bot" && strings.HasPrefix(cm.Body, marker)
}

// Upsert edits the pull request's comment that carries marker and was written by the workflow's bot, or posts a
// new one. It returns the comment's id.
func (c *Client) Upsert(ctx context.Context, pr int, kind, body string) (int64, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	marker := Marker(kind)
	text := Fit(marker, body)
	for page := 1; ; page++ {
		var list []comment
		q := url.Values{"per_page": {"100"}, "page": {strconv.Itoa(page)}}
		if err := c.wrap(c.rest().Get(ctx, fmt.Sprintf("/issues/%d/comments", pr), q, &list)); err != nil {
			return 0, err
		}
		for _, cm := range list {
			if c.ours(cm, marker) {
				var out comment
				path := fmt.Sprintf("/issues/comments/%d", cm.ID)
				return cm.ID, c.wrap(c.rest().Send(ctx, http.MethodPatch, path, map[string]string{"body": text}, &out))
			}
		}
		if len(list) < 100 {
			break
		}
	}
	var out comment
	path := fmt.Sprintf("/issues/%d/comments", pr)
	err := c.wrap(c.rest().Send(ctx, http.MethodPost, path, map[string]string{"body": text}, &out))
	return out.ID, err
}

// rest is the shared GitHub REST client for c's API, token and repository.
func (c *Client) rest() *github.Client {
	return &c.Client
}

// wrap names the tool in an error of the shared client.
func (c *Client) wrap(err error) error {
	if err != nil {
		return fmt.Errorf("comment: %w", err)
	}
	return nil
}
