package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestEndpoints(t *testing.T) {
	s := newServer("web")
	if code, _ := get(t, s, "/health"); code != http.StatusOK {
		t.Fatalf("/health = %d, want 200", code)
	}
	if code, _ := get(t, s, "/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("/ready before start = %d, want 503", code)
	}
	s.ready.Store(true)
	if code, _ := get(t, s, "/ready"); code != http.StatusOK {
		t.Fatalf("/ready when started = %d, want 200", code)
	}
	code, body := get(t, s, "/")
	if code != http.StatusOK || !strings.Contains(body, "Hello from web") {
		t.Fatalf("/ = %d %q, want the hello page", code, body)
	}
	if code, _ := get(t, s, "/missing"); code != http.StatusNotFound {
		t.Fatalf("/missing = %d, want 404", code)
	}
}

func TestNameIsEscaped(t *testing.T) {
	_, body := get(t, newServer("<script>"), "/")
	if strings.Contains(body, "<script>") {
		t.Fatalf("service name not escaped: %q", body)
	}
}

func TestProbe(t *testing.T) {
	ok := httptest.NewServer(newServer("web"))
	defer ok.Close()
	if probe(ok.URL+"/health") != 0 {
		t.Fatal("probe of a healthy server failed")
	}
	if probe(ok.URL+"/missing") != 1 {
		t.Fatal("probe of a 404 succeeded")
	}
}
