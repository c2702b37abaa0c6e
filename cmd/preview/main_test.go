package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"appstack/internal/preview"
)

func TestExitStatusSaysWhatStoppedThePreview(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"a clean preview exits 0", nil, 0},
		{"a stack that cannot be evaluated exits 1", errors.New("stack file: bad"), 1},
		{"open policy findings exit 3", fmt.Errorf("%w: 2", preview.ErrFindings), ExitFindings},
		{"a diff that deletes or replaces production data exits 4",
			fmt.Errorf("%w: 1 resource(s)", preview.ErrProductionData), ExitProductionData},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, exitStatus(tc.err)) })
	}
	assert.NotEqual(t, ExitFindings, ExitProductionData)
	assert.NotEqual(t, 1, ExitProductionData, "distinct from an error")
}
