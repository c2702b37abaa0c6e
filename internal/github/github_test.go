package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI serves /repos/o/r/items as pages of per_page numbers (1..total) with GitHub's Link header, and records
// every request.
type fakeAPI struct {
	total    int
	next     string // when set, every Link header names this URL instead of the real next page
	requests []*http.Request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests = append(f.requests, r)
	if r.URL.Path != "/repos/o/r/items" && r.URL.Path != "/repositories/42/items" {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, pg = max(per, 1), max(pg, 1)
	var items []int
	for i := (pg-1)*per + 1; i <= min(pg*per, f.total); i++ {
		items = append(items, i)
	}
	if pg*per < f.total {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(pg+1))
		next := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		if f.next != "" {
			next = f.next
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <http://%s/last>; rel="last"`, next, r.Host))
	}
	_ = json.NewEncoder(w).Encode(items)
}

func serve(t *testing.T, h http.Handler) *Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Client{API: srv.URL, Token: "tok", Repo: "o/r", HTTP: srv.Client()}
}

// collect lists /items 2 per page and returns every number read.
func collect(c *Client, maxPages int, stopAt int) ([]int, error) {
	var got []int
	err := c.List(context.Background(), "/items", map[string][]string{"per_page": {"2"}}, maxPages,
		func(body json.RawMessage) (bool, error) {
			var page []int
			if err := json.Unmarshal(body, &page); err != nil {
				return false, err
			}
			for _, n := range page {
				got = append(got, n)
				if n == stopAt {
					return true, nil
				}
			}
			return false, nil
		})
	return got, err
}

func TestListFollowsTheLinkHeaderToTheLastPage(t *testing.T) {
	f := &fakeAPI{total: 5}
	got, err := collect(serve(t, f), 10, 0)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5}, got, "every page, in order")
	assert.Len(t, f.requests, 3)
}

func TestListStopsWhenThePageSaysDone(t *testing.T) {
	f := &fakeAPI{total: 9}
	got, err := collect(serve(t, f), 10, 3)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, got)
	assert.Len(t, f.requests, 2, "no page is read after the one that answered")
}

func TestListRefusesAListLongerThanItsLimit(t *testing.T) {
	f := &fakeAPI{total: 9}
	_, err := collect(serve(t, f), 2, 0)
	assert.ErrorIs(t, err, ErrTooManyPages)
	assert.Len(t, f.requests, 2)
}

func TestTheTokenGoesOnlyToThisRepositorysAPI(t *testing.T) {
	var leaked []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(elsewhere.Close)
	f := &fakeAPI{total: 5}
	c := serve(t, f)
	for _, next := range []string{
		elsewhere.URL + "/repos/o/r/items?page=2",
		c.API + "/repos/o/other/items?page=2",
		c.API + "/repos/o/r2/items?page=2",
		c.API + "/repositories/x/items?page=2",
		c.API + "/repositoriesX/42/items?page=2",
	} {
		f.next = next
		_, err := collect(c, 10, 0)
		assert.ErrorContains(t, err, "is not this repository's API", next)
	}
	assert.Empty(t, leaked)
}

func TestEveryCallCarriesTheTokenAndTheAPIVersion(t *testing.T) {
	f := &fakeAPI{total: 1}
	c := serve(t, f)
	require.NoError(t, c.Get(context.Background(), "/items", nil, new([]int)))
	require.Len(t, f.requests, 1)
	h := f.requests[0].Header
	assert.Equal(t, "Bearer tok", h.Get("Authorization"))
	assert.Equal(t, "application/vnd.github+json", h.Get("Accept"))
	assert.Equal(t, "2022-11-28", h.Get("X-GitHub-Api-Version"))
}

func TestAnswersOutside2xxAreErrorsWithGitHubsMessage(t *testing.T) {
	for _, code := range []int{http.StatusNotModified, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"message":"` + http.StatusText(code) + ` ` + strings.Repeat("x", 1000) + `"}`))
		}))
		var out map[string]any
		err := c.Send(context.Background(), http.MethodPatch, "/issues/comments/1", map[string]string{"body": "b"}, &out)
		var se *StatusError
		require.ErrorAs(t, err, &se, "status %d", code)
		assert.Equal(t, code, se.Code)
		assert.Equal(t, http.MethodPatch, se.Method)
		assert.Equal(t, c.API+"/repos/o/r/issues/comments/1", se.URL)
		if code != http.StatusNotModified { // a 304 has no body
			assert.Contains(t, se.Message, http.StatusText(code))
		}
		assert.LessOrEqual(t, len(se.Message), 512, "the message is cut")
		assert.Nil(t, out, "nothing is decoded from a failed answer")
	}
}

func TestASuccessThatIsNotJSONIsAnError(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>a proxy's page</html>"))
	}))
	err := c.Get(context.Background(), "/items", nil, new([]int))
	assert.ErrorContains(t, err, "the answer is not the documented JSON")
	var se *StatusError
	assert.False(t, errors.As(err, &se))
}

func TestSendPostsJSON(t *testing.T) {
	var got struct{ Body string }
	var method, ctype string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, ctype = r.Method, r.Header.Get("Content-Type")
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":7}`))
	}))
	var out struct{ ID int64 }
	require.NoError(t, c.Send(context.Background(), http.MethodPost, "/issues/1/comments",
		map[string]string{"body": "hello"}, &out))
	assert.Equal(t, http.MethodPost, method)
	assert.Equal(t, "application/json", ctype)
	assert.Equal(t, "hello", got.Body)
	assert.Equal(t, int64(7), out.ID)
}

// GitHub may link the next page by the repository's id; that is still this repository's API.
func TestANextPageNamedByTheRepositorysIDIsFollowed(t *testing.T) {
	f := &fakeAPI{total: 3}
	c := serve(t, f)
	f.next = c.API + "/repositories/42/items?per_page=2&page=2"
	got, err := collect(c, 10, 0)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, got)
}

func TestFromEnvReadsWhatActionsSets(t *testing.T) {
	env := map[string]string{"GITHUB_API_URL": "https://ghe.example.com/api/v3/", "GITHUB_TOKEN": "tok",
		"GITHUB_REPOSITORY": "o/r"}
	c := FromEnv(func(k string) string { return env[k] })
	assert.Equal(t, Client{API: "https://ghe.example.com/api/v3", Token: "tok", Repo: "o/r"}, c)
	assert.Equal(t, "https://api.github.com", FromEnv(func(string) string { return "" }).API)
}
