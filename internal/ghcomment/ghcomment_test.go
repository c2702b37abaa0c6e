package ghcomment

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeGitHub keeps one pull request's comments in memory.
type fakeGitHub struct {
	mu       sync.Mutex
	comments []comment
	requests []string
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	var in struct{ Body string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/repos/o/r/issues/7/comments":
		start := 0
		if r.URL.Query().Get("page") == "2" {
			start = 100
		}
		end := min(start+100, len(f.comments))
		_ = json.NewEncoder(w).Encode(f.comments[min(start, end):end])
	case r.Method == http.MethodPost && r.URL.Path == "/repos/o/r/issues/7/comments":
		c := comment{ID: int64(len(f.comments) + 1), Body: in.Body}
		f.comments = append(f.comments, c)
		_ = json.NewEncoder(w).Encode(c)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/repos/o/r/issues/comments/"):
		var id int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/repos/o/r/issues/comments/"), "%d", &id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.comments[id-1].Body = in.Body
		_ = json.NewEncoder(w).Encode(f.comments[id-1])
	default:
		http.NotFound(w, r)
	}
}

func client(t *testing.T, f *fakeGitHub) *Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{API: srv.URL, Token: "tok", Repo: "o/r"}
}

func TestUpsertPostsThenEditsInPlace(t *testing.T) {
	f := &fakeGitHub{}
	c := client(t, f)
	for i := range 120 {
		f.comments = append(f.comments, comment{ID: int64(i + 1), Body: "chatter"})
	}
	id, err := c.Upsert(context.Background(), 7, "preview-staging", "first")
	require.NoError(t, err)
	assert.EqualValues(t, 121, id)
	again, err := c.Upsert(context.Background(), 7, "preview-staging", "second")
	require.NoError(t, err)
	assert.Equal(t, id, again, "the same comment is edited, even past the first page")
	assert.Equal(t, Marker("preview-staging")+"\nsecond", f.comments[120].Body)
	other, err := c.Upsert(context.Background(), 7, "preview-production", "prod")
	require.NoError(t, err)
	assert.NotEqual(t, id, other, "each kind has its own comment")
}

func TestLongBodiesAreCutToGitHubsLimit(t *testing.T) {
	body := strings.Repeat("é", 70000)
	got := Fit(Marker("x"), body)
	assert.Equal(t, MaxBody, utf8.RuneCountInString(got))
	assert.True(t, strings.HasPrefix(got, Marker("x")), "the marker survives, so the next run still finds it")
	assert.True(t, strings.HasSuffix(got, "the full output is in the workflow run's log."))
	assert.Equal(t, Marker("x")+"\nshort", Fit(Marker("x"), "short"))
}

func TestErrorsNameTheCall(t *testing.T) {
	f := &fakeGitHub{}
	c := client(t, f)
	c.Token = "wrong"
	_, err := c.Upsert(context.Background(), 7, "k", "b")
	assert.ErrorContains(t, err, "401 Unauthorized: {\"message\":\"Bad credentials\"}")
	_, err = (&Client{}).Upsert(context.Background(), 7, "k", "b")
	assert.ErrorContains(t, err, "token and owner/name")
}
