package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/lifecycle"
	"appstack/internal/project"
)

// s3StandIn answers the three S3 REST calls stackctl unlock makes (ListObjectsV2, GetObject, DeleteObject) on
// path-style URLs, the way S3 does, refusals included: an unsigned request is AccessDenied, a missing key
// NoSuchKey. Test scaffolding at the boundary; no cloud behind it.
type s3StandIn struct {
	mu      sync.Mutex
	bucket  string
	objects map[string][]byte
}

func (s *s3StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, code)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(http.StatusForbidden, "AccessDenied")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	if bucket != s.bucket {
		fail(http.StatusNotFound, "NoSuchBucket")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && key == "" && r.URL.Query().Get("list-type") == "2":
		prefix := r.URL.Query().Get("prefix")
		type content struct{ Key string }
		res := struct {
			XMLName     xml.Name `xml:"ListBucketResult"`
			Name        string
			Prefix      string
			KeyCount    int
			IsTruncated bool
			Contents    []content
		}{Name: bucket, Prefix: prefix}
		var keys []string
		for k := range s.objects {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			res.Contents = append(res.Contents, content{Key: k})
		}
		res.KeyCount = len(keys)
		w.Header().Set("Content-Type", "application/xml")
		_ = xml.NewEncoder(w).Encode(res)
	case r.Method == http.MethodGet:
		body, ok := s.objects[key]
		if !ok {
			fail(http.StatusNotFound, "NoSuchKey")
			return
		}
		_, _ = w.Write(body)
	case r.Method == http.MethodDelete:
		delete(s.objects, key) // S3 answers 204 whether or not the key existed
		w.WriteHeader(http.StatusNoContent)
	default:
		_, _ = io.Copy(io.Discard, r.Body)
		fail(http.StatusNotImplemented, "NotImplemented")
	}
}

func lockFile(t *testing.T, at time.Time) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"pid": 4242, "username": "runner", "hostname": "gha-1",
		"timestamp": at})
	require.NoError(t, err)
	return raw
}

func TestUnlockReleasesOnlyOldLocksInAnS3Backend(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNLOCKTEST000000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "unlock-test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: appstack\nruntime: go\n"),
		0o644))
	lock := "state/.pulumi/locks/organization/appstack/staging/0a1b.json"
	other := "state/.pulumi/locks/organization/appstack/production/9f8e.json"
	s3 := &s3StandIn{bucket: "appstack-state", objects: map[string][]byte{
		lock:  lockFile(t, time.Now().Add(-10*time.Minute)),
		other: lockFile(t, time.Now().Add(-3*time.Hour)),
	}}
	srv := httptest.NewServer(s3)
	defer srv.Close()
	backend := "s3://appstack-state/state?region=ap-southeast-1&endpoint=" + srv.URL
	var progress strings.Builder
	m := &lifecycle.Manager{Dir: dir, Progress: &progress}
	ctx := context.Background()

	_, err := m.ReleaseLocks(ctx, backend, "staging", time.Hour, false)
	require.ErrorIs(t, err, lifecycle.ErrLockTooYoung)
	assert.Contains(t, progress.String(), "held by runner@gha-1 (pid 4242)")
	assert.Contains(t, s3.objects, lock, "a young lock stays")

	released, err := m.ReleaseLocks(ctx, backend, "staging", time.Hour, true)
	require.NoError(t, err)
	require.Len(t, released, 1)
	assert.Equal(t, ".pulumi/locks/organization/appstack/staging/0a1b.json", released[0].Key)
	assert.NotContains(t, s3.objects, lock)
	assert.Contains(t, s3.objects, other, "another stack's lock is not touched")

	released, err = m.ReleaseLocks(ctx, backend, "staging", time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, released)
}

func TestUnlockInAFileBackend(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: appstack\nruntime: go\n"),
		0o644))
	state := t.TempDir()
	locks := filepath.Join(state, ".pulumi", "locks", "organization", "appstack", "pr-7")
	require.NoError(t, os.MkdirAll(locks, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(locks, "x.json"), lockFile(t, time.Now().Add(-2*time.Hour)), 0o600))
	m := &lifecycle.Manager{Dir: dir, Progress: io.Discard}
	released, err := m.ReleaseLocks(context.Background(), "file://"+state, "pr-7", time.Hour, false)
	require.NoError(t, err)
	require.Len(t, released, 1)
	assert.NoFileExists(t, filepath.Join(locks, "x.json"))

	require.NoError(t, os.WriteFile(filepath.Join(locks, "y.json"), []byte("not json"), 0o600))
	_, err = m.ReleaseLocks(context.Background(), "file://"+state, "pr-7", time.Hour, false)
	assert.ErrorContains(t, err, "is not a Pulumi lock file")
	assert.FileExists(t, filepath.Join(locks, "y.json"), "nothing is deleted that was not read as a lock")

	_, err = m.ReleaseLocks(context.Background(), "https://api.pulumi.com", "pr-7", time.Hour, false)
	assert.ErrorContains(t, err, "use pulumi cancel")
}

// unlock, the break-glass command, never downloads a CLI: with none at hand it says what is missing and how to get
// one, without touching ~/.pulumi; with pulumi on PATH it uses that one.
func TestUnlockUsesTheCLIAtHandAndNeverDownloadsOne(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("APPSTACK_PULUMI_ROOT", "")
	path := t.TempDir()
	t.Setenv("PATH", path)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: appstack\nruntime: go\n"),
		0o644))
	// A download would fail here anyway (no network); the deadline keeps a try from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"unlock", "-stack", "staging", "-dir", dir, "-policy-pack", ""}

	m := &lifecycle.Manager{Progress: io.Discard}
	err := run(ctx, args, io.Discard, m)
	require.NoError(t, m.Close())
	require.ErrorIs(t, err, errNoCLI)
	for _, want := range []string{"$APPSTACK_PULUMI_ROOT is not set", "no pulumi on PATH", "never downloads",
		"make pulumi-cli"} {
		assert.ErrorContains(t, err, want)
	}
	assert.NoDirExists(t, filepath.Join(home, ".pulumi"), "nothing was installed")

	// The CLI on PATH (a stand-in that answers `pulumi version` and `pulumi whoami --json`) names a file
	// backend with an old lock of staging.
	state := t.TempDir()
	locks := filepath.Join(state, ".pulumi", "locks", "organization", "appstack", "staging")
	require.NoError(t, os.MkdirAll(locks, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(locks, "x.json"), lockFile(t, time.Now().Add(-2*time.Hour)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(path, "pulumi"), []byte(`#!/bin/sh
case "$*" in
*whoami*) echo '{"user":"runner","url":"file://`+state+`"}' ;;
*version*) echo v`+project.PulumiVersion+` ;;
*) echo "unexpected: pulumi $*" >&2; exit 1 ;;
esac
`), 0o755))
	var out strings.Builder
	m = &lifecycle.Manager{Progress: io.Discard}
	err = run(ctx, args, &out, m)
	require.NoError(t, m.Close())
	require.NoError(t, err)
	assert.Equal(t, "released 1 lock(s) of staging\n", out.String())
	assert.NoFileExists(t, filepath.Join(locks, "x.json"))
	assert.NoDirExists(t, filepath.Join(home, ".pulumi"), "nothing was installed")
}
