// Package github is the small GitHub REST client the CI tools share (internal/deploygate and internal/ghcomment):
// one place for the headers GitHub asks for, the handling of an answer that is not a success, and the
// following of list pages. It uses the standard library only: the calls are a handful of JSON GETs, POSTs and
// PATCHes, and go-github would add a large dependency and its own pagination types for them.
//
// What GitHub documents and the client relies on:
//   - every call sends Accept: application/vnd.github+json and X-GitHub-Api-Version: 2022-11-28, and a token as
//     Authorization: Bearer (https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api,
//     https://docs.github.com/en/rest/about-the-rest-api/api-versions);
//   - a failed call answers a 4xx or 5xx status with a JSON message; any status outside 2xx is an error here
//     (https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api);
//   - lists page with the Link header's rel="next" URL
//     (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api).
package github

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
	"strings"
)

// APIVersion is the REST API version every call asks for.
const APIVersion = "2022-11-28"

// Client calls the GitHub REST API for one repository.
type Client struct {
	// API is the API's base URL, such as https://api.github.com ($GITHUB_API_URL in Actions). Required.
	API string
	// Token authorises the calls ($GITHUB_TOKEN). Sent only to this repository's part of API.
	Token string
	// Repo is owner/name ($GITHUB_REPOSITORY). Required.
	Repo string
	// HTTP sends the requests. Default http.DefaultClient.
	HTTP *http.Client
}

// StatusError is an answer whose status is not 2xx.
type StatusError struct {
	// Method and URL name the call.
	Method, URL string
	// Status is the answer's status line, such as "404 Not Found", and Code its number.
	Status string
	Code   int
	// Message is the start of the answer's body (GitHub's JSON message), at most 512 bytes.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.URL, e.Status, e.Message)
}

// FromEnv is the client for the API, token and repository GitHub Actions names in the environment:
// GITHUB_API_URL (default https://api.github.com), GITHUB_TOKEN and GITHUB_REPOSITORY.
func FromEnv(getenv func(string) string) Client {
	api := getenv("GITHUB_API_URL")
	if api == "" {
		api = "https://api.github.com"
	}
	return Client{API: strings.TrimRight(api, "/"), Token: getenv("GITHUB_TOKEN"), Repo: getenv("GITHUB_REPOSITORY")}
}

// repoURL is the URL of path under this repository's part of the API, with query q.
func (c *Client) repoURL(path string, q url.Values) string {
	u := c.API + "/repos/" + c.Repo + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Get reads path (under /repos/{owner}/{repo}, such as "/git/ref/heads/main") with query q into out.
func (c *Client) Get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.Do(ctx, http.MethodGet, c.repoURL(path, q), nil, out)
	return err
}

// Send sends in as JSON with method (POST, PATCH) to path under /repos/{owner}/{repo} and decodes the answer into
// out.
func (c *Client) Send(ctx context.Context, method, path string, in, out any) error {
	_, err := c.Do(ctx, method, c.repoURL(path, nil), in, out)
	return err
}

// ErrTooManyPages is returned by List when a list goes on past its page limit: beyond it the answer is an error,
// not a guess from part of the list.
var ErrTooManyPages = errors.New("more pages than the limit")

// List reads a list at path under /repos/{owner}/{repo} page by page, following the Link header's rel="next",
// and hands each page's body to page until page says done or there is no next page. It reads at most maxPages
// pages, and follows a next link only inside this repository's part of the API, so the token never goes where
// an answer's header points.
func (c *Client) List(ctx context.Context, path string, q url.Values, maxPages int,
	page func(body json.RawMessage) (done bool, err error)) error {
	u := c.repoURL(path, q)
	for n := 0; u != ""; n++ {
		if n == maxPages {
			return fmt.Errorf("GET %s: %w (%d)", path, ErrTooManyPages, maxPages)
		}
		var body json.RawMessage
		next, err := c.Do(ctx, http.MethodGet, u, nil, &body)
		if err != nil {
			return err
		}
		if done, err := page(body); err != nil || done {
			return err
		}
		if next != "" && !c.ownsPage(next) {
			return fmt.Errorf("GET %s: the next page %q is not this repository's API", path, next)
		}
		u = next
	}
	return nil
}

// ownsPage says whether a next-page URL is this repository's API. GitHub may name the repository by its id
// rather than its name: "link: <https://api.github.com/repositories/1300192/issues?page=2>" answers a request
// to /repos/octocat/Spoon-Knife/issues
// (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api). The id form is
// accepted on the same API origin only: the token never leaves it.
func (c *Client) ownsPage(next string) bool {
	if strings.HasPrefix(next, c.API+"/repos/"+c.Repo+"/") {
		return true
	}
	rest, ok := strings.CutPrefix(next, c.API+"/repositories/")
	return ok && repositoryIDPath.MatchString(rest)
}

var repositoryIDPath = regexp.MustCompile(`^[0-9]+/`)

var nextLink = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="next"`)

// Do sends one call to the absolute URL u: in, when not nil, as a JSON body; the answer decoded into out. It
// returns the Link header's rel="next" URL, or "". A status outside 2xx is a *StatusError; an answer that is not
// JSON is an error naming the call.
func (c *Client) Do(ctx context.Context, method, u string, in, out any) (next string, err error) {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", method, u, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer func() { _ = resp.Body.Close() }() // a read-only body: nothing to lose
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", &StatusError{Method: method, URL: u, Status: resp.Status, Code: resp.StatusCode,
			Message: strings.TrimSpace(string(msg))}
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return "", fmt.Errorf("%s %s: the answer is not the documented JSON: %w", method, u, err)
	}
	if m := nextLink.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
		next = m[1]
	}
	return next, nil
}
