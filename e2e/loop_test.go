package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loopback is an httptest server on 127.0.0.1 that counts its requests.
func loopback(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(hits.Add(1), w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func hostOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Hostname()
}

// dropConnection closes the connection without an answer, as a host that stopped does.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestTheLoopCountsEveryFailedRequest(t *testing.T) {
	t.Parallel()
	srv, hits := loopback(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 4:
			dropConnection(w)
		}
	})
	l := Loop{Address: hostOf(t, srv.URL), URLs: []string{srv.URL + "/"}, Interval: 5 * time.Millisecond,
		Timeout: time.Second, Bound: 150 * time.Millisecond}
	r, err := l.Run(t.Context())
	require.NoError(t, err)
	require.GreaterOrEqual(t, r.Requests, 5)
	assert.Equal(t, 2, r.Failed, "one 502 and one dropped connection")
	assert.Equal(t, 1, r.Statuses[http.StatusBadGateway])
	assert.Equal(t, 1, r.Statuses[0])
	assert.Len(t, r.Failures, 2)
	assert.InDelta(t, hits.Load(), r.Requests, 1, "every request counted reached the server")
	assert.Contains(t, r.String(), "2 failed")
}

func TestTheLoopCountsASlowAnswerAsAFailure(t *testing.T) {
	t.Parallel()
	srv, _ := loopback(t, func(n int64, _ http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	})
	l := Loop{Address: hostOf(t, srv.URL), URLs: []string{srv.URL + "/"}, Interval: 5 * time.Millisecond,
		Timeout: 100 * time.Millisecond, Bound: 250 * time.Millisecond}
	r, err := l.Run(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, r.Failed)
	assert.Contains(t, r.Failures[0], "Timeout")
}

func TestTheLoopStopsByItselfAtItsBound(t *testing.T) {
	t.Parallel()
	srv, _ := loopback(t, func(int64, http.ResponseWriter, *http.Request) {})
	l := Loop{Address: hostOf(t, srv.URL), URLs: []string{srv.URL + "/"}, Interval: 10 * time.Millisecond,
		Timeout: time.Second, Bound: 100 * time.Millisecond}
	start := time.Now()
	r, err := l.Run(context.Background()) // nothing ever tells it to stop
	require.NoError(t, err)
	assert.True(t, r.Bounded)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.GreaterOrEqual(t, r.Elapsed, 100*time.Millisecond)
	assert.Zero(t, r.Failed)
	assert.Contains(t, r.String(), "stopped at its bound")

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	l.Bound = time.Minute
	r, err = l.Run(ctx)
	require.NoError(t, err)
	assert.False(t, r.Bounded, "told to stop, not bounded")
	assert.Less(t, r.Elapsed, 5*time.Second)
	assert.Zero(t, r.Failed, "a request cut short by the stop is not a failure")
}

func TestTheLoopTargetsNothingButTheAddress(t *testing.T) {
	t.Parallel()
	elsewhere, elsewhereHits := loopback(t, func(int64, http.ResponseWriter, *http.Request) {})
	srv, hits := loopback(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/", http.StatusFound)
	})
	address := hostOf(t, srv.URL)

	t.Run("a URL on another host is refused before any request", func(t *testing.T) {
		other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
		_, err := Loop{Address: address, URLs: []string{srv.URL + "/", other + "/"}, Bound: time.Second}.Run(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not on the address 127.0.0.1")
		assert.Zero(t, hits.Load())
	})
	t.Run("a redirect elsewhere is not followed, and counts as a failure", func(t *testing.T) {
		l := Loop{Address: address, URLs: []string{srv.URL + "/"}, Interval: 5 * time.Millisecond,
			Timeout: time.Second, Bound: 100 * time.Millisecond}
		r, err := l.Run(t.Context())
		require.NoError(t, err)
		assert.Positive(t, hits.Load())
		assert.Zero(t, elsewhereHits.Load(), "the redirect target got no request")
		assert.Equal(t, r.Requests, r.Failed)
		assert.Equal(t, r.Requests, r.Statuses[http.StatusFound])
	})
	t.Run("a loop without a bound, URLs or an address is refused", func(t *testing.T) {
		for _, l := range []Loop{{Address: address, URLs: []string{srv.URL}}, {Address: address, Bound: time.Second},
			{URLs: []string{srv.URL}, Bound: time.Second}, {Address: address, URLs: []string{"ftp://127.0.0.1/"},
				Bound: time.Second}} {
			_, err := l.Run(t.Context())
			assert.Error(t, err)
		}
	})
}

func TestWaitHealthy(t *testing.T) {
	t.Parallel()
	srv, _ := loopback(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/never" || n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	require.NoError(t, WaitHealthy(t.Context(), map[string]string{"web": srv.URL + "/health"}, 5*time.Second,
		10*time.Millisecond), "healthy from the third try")
	err := WaitHealthy(t.Context(), map[string]string{"web": srv.URL + "/health", "api": srv.URL + "/never"},
		100*time.Millisecond, 10*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api ("+srv.URL+"/never) did not answer 200 within 100ms: HTTP 503")
	assert.NotContains(t, err.Error(), "web")
	assert.Error(t, WaitHealthy(t.Context(), nil, time.Second, time.Millisecond), "no health URLs is an error")
}

func TestARequestCutShortByTheStopIsNoFailure(t *testing.T) {
	t.Parallel()
	srv, _ := loopback(t, func(_ int64, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	r, err := Loop{Address: hostOf(t, srv.URL), URLs: []string{srv.URL + "/"}, Interval: 10 * time.Millisecond,
		Timeout: 5 * time.Second, Bound: time.Minute}.Run(ctx)
	require.NoError(t, err)
	assert.Zero(t, r.Requests, "the one request in flight when the deploy ended is not counted")
	assert.Zero(t, r.Failed)
}
