package stacks

// The image-reference grammar (components/imageref) is tested here rather than in its own package, to keep the
// test binaries few (docs/performance.md).

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"appstack/components/imageref"
)

var imageDigest = "@sha256:" + strings.Repeat("a1", 32)

func TestImageRefPinned(t *testing.T) {
	for _, ref := range []string{
		"123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/app-web-repo-1234567" + imageDigest,
		"ghcr.io/koysor/quant-finance/options" + imageDigest,
		"ghcr.io/koysor/quant-finance/options:v1.2" + imageDigest,
		"localhost:5000/a_b/c--d" + imageDigest,
		"library/nginx" + imageDigest,
	} {
		assert.True(t, imageref.Pinned(ref), ref)
	}
	for _, ref := range []string{
		"ghcr.io/koysor/quant-finance/options:latest",              // no digest
		"ghcr.io/koysor/quant-finance/options@sha256:abc",          // short digest
		"ghcr.io//options" + imageDigest,                           // empty path component
		"ghcr.io/Koysor/options" + imageDigest,                     // upper case in the repository
		"ghcr.io/koysor/options@sha256:" + strings.Repeat("A", 64), // upper-case hex
		"-ghcr.io/options" + imageDigest,
		"ghcr.io/options/" + imageDigest,
		"ghcr.io/options:" + imageDigest,
		"",
	} {
		assert.False(t, imageref.Pinned(ref), ref)
	}
}

func TestImageRefRegistry(t *testing.T) {
	assert.Equal(t, "ghcr.io", imageref.Registry("ghcr.io/koysor/options"+imageDigest))
	assert.Equal(t, "localhost:5000", imageref.Registry("localhost:5000/x"+imageDigest))
	assert.Equal(t, "localhost", imageref.Registry("localhost/x"+imageDigest))
	assert.Equal(t, imageref.DockerHub, imageref.Registry("koysor/options"+imageDigest))
	assert.Equal(t, imageref.DockerHub, imageref.Registry("nginx"+imageDigest))
}
