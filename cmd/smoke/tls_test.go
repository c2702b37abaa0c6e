package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behind the front door the health URLs are https: the smoke test trusts only a certificate the system's roots
// verify, so a front door serving a wrong or self-signed certificate fails it.
func TestAnHTTPSHealthURLNeedsATrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := check(context.Background(), &out, []byte(`{"healthUrls":{"web":"`+srv.URL+`/health"}}`), 1, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Contains(t, out.String(), "FAIL web https://")
}
