package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline/offlinetest"
)

func TestPreviewPrintsTheTreeAndOutputs(t *testing.T) {
	root := offlinetest.Root()
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			t.Chdir(root)
			var out strings.Builder
			require.NoError(t, run(&out, root, stack))
			got := out.String()
			assert.Contains(t, got, `Offline preview of stack "`+stack+`"`)
			assert.Contains(t, got, "appstack-"+stack+" (pulumi:pulumi:Stack)\n└─ app (appstack:components:App)")
			assert.Contains(t, got, "app-host-instance (aws:ec2/instance:Instance)  instanceType=")
			assert.Contains(t, got, "metadataOptions.httpTokens=required")
			assert.Contains(t, got, "serviceUrls     map[web:http://203.0.113.")
			assert.Equal(t, stack == "production", strings.Contains(got, "[protect] [retainOnDelete]"))
		})
	}
}

func TestPreviewNamesAMissingStackFile(t *testing.T) {
	root := offlinetest.Root()
	t.Chdir(root)
	err := run(&strings.Builder{}, root, "nope")
	assert.ErrorContains(t, err, "Pulumi.nope.yaml: no such file or directory")
}
