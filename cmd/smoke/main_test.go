package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmokePassesHealthyServicesAndNamesTheDownOne(t *testing.T) {
	var calls atomic.Int32
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer healthy.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer down.Close()

	outputs := fmt.Sprintf(`{"healthUrls":{"web":%q,"api":%q}}`, healthy.URL+"/health", down.URL+"/health")
	var out strings.Builder
	err := check(context.Background(), &out, []byte(outputs), 4, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api ("+down.URL+"/health): not healthy after 4 attempts: HTTP 500")
	assert.Contains(t, out.String(), "ok   web "+healthy.URL+"/health")
	assert.EqualValues(t, 3, calls.Load(), "a starting service gets its retries")

	require.NoError(t, check(context.Background(), &out, []byte(fmt.Sprintf(`{"healthUrls":{"web":%q}}`,
		healthy.URL)), 2, 0))
	assert.ErrorContains(t, check(context.Background(), &out, []byte(`{}`), 1, 0), "no healthUrls")
}
