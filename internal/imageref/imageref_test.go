package imageref_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"appstack/internal/imageref"
)

var digest = "@sha256:" + strings.Repeat("a1", 32)

func TestPinned(t *testing.T) {
	for _, ref := range []string{
		"123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/app-web-repo-1234567" + digest,
		"ghcr.io/koysor/quant-finance/options" + digest,
		"ghcr.io/koysor/quant-finance/options:v1.2" + digest,
		"localhost:5000/a_b/c--d" + digest,
		"library/nginx" + digest,
	} {
		assert.True(t, imageref.Pinned(ref), ref)
	}
	for _, ref := range []string{
		"ghcr.io/koysor/quant-finance/options:latest",              // no digest
		"ghcr.io/koysor/quant-finance/options@sha256:abc",          // short digest
		"ghcr.io//options" + digest,                                // empty path component
		"ghcr.io/Koysor/options" + digest,                          // upper case in the repository
		"ghcr.io/koysor/options@sha256:" + strings.Repeat("A", 64), // upper-case hex
		"-ghcr.io/options" + digest,
		"ghcr.io/options/" + digest,
		"ghcr.io/options:" + digest,
		"",
	} {
		assert.False(t, imageref.Pinned(ref), ref)
	}
}

func TestRegistry(t *testing.T) {
	assert.Equal(t, "ghcr.io", imageref.Registry("ghcr.io/koysor/options"+digest))
	assert.Equal(t, "localhost:5000", imageref.Registry("localhost:5000/x"+digest))
	assert.Equal(t, "localhost", imageref.Registry("localhost/x"+digest))
	assert.Equal(t, imageref.DockerHub, imageref.Registry("koysor/options"+digest))
	assert.Equal(t, imageref.DockerHub, imageref.Registry("nginx"+digest))
}
