package preview_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/preview"
	"appstack/testing/offlinetest"
)

func TestPreviewPrintsTheTreeAndOutputs(t *testing.T) {
	root := offlinetest.Root()
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			t.Chdir(root)
			var out strings.Builder
			require.NoError(t, preview.Print(&out, root, stack, preview.Text, ""))
			got := out.String()
			assert.Contains(t, got, `Offline preview of stack "`+stack+`"`)
			assert.Contains(t, got, "appstack-"+stack+" (pulumi:pulumi:Stack)\n└─ app (appstack:components:App)")
			assert.Contains(t, got, "metadataOptions.httpTokens=required")
			assert.Contains(t, got, "Policy: ")
			assert.Contains(t, got, "Estimated monthly cost (ESTIMATE")
			assert.Contains(t, got, "serviceUrls     map[web:http://203.0.113.")
			assert.Equal(t, stack == "production", strings.Contains(got, "[protect] [retainOnDelete]"))
		})
	}
}

func TestPreviewJSONAndDiff(t *testing.T) {
	root := offlinetest.Root()
	t.Chdir(root)
	var js strings.Builder
	require.NoError(t, preview.Print(&js, root, "staging", preview.JSON, ""))
	base := filepath.Join(t.TempDir(), "base.json")
	require.NoError(t, os.WriteFile(base, []byte(js.String()), 0o600))
	var diff strings.Builder
	// Production on either side makes production's data count: staging's tables are not production's.
	assert.ErrorIs(t, preview.Print(&diff, root, "production", preview.Text, base), preview.ErrProductionData)
	assert.Contains(t, diff.String(), `Changes from the base report of "staging" to stack "production"`)
}

func TestOpenFindingsFailThePreview(t *testing.T) {
	dir := t.TempDir()
	stack := "config:\n  aws:region: ap-southeast-1\n  appstack:environment: staging\n" +
		"  appstack:ingressCidrs: [\"10.0.0.0/8\"]\n  appstack:services:\n    - name: web\n      port: 8080\n" +
		"      image: public.ecr.aws/appstack/web@sha256:" + strings.Repeat("cd", 32) + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(stack), 0o600))
	t.Chdir(dir)
	var out strings.Builder
	err := preview.Print(&out, dir, "dev", preview.Text, "")
	require.True(t, errors.Is(err, preview.ErrFindings), "err = %v", err)
	assert.Contains(t, err.Error(), "open policy findings: 1")
	assert.Contains(t, out.String(), "[medium] APPSTACK-EC2-010 (CKV_AWS_88, AVD-AWS-0009)")
}

func TestPreviewNamesAMissingStackFile(t *testing.T) {
	root := offlinetest.Root()
	t.Chdir(root)
	err := preview.Print(&strings.Builder{}, root, "nope", preview.Text, "")
	assert.ErrorContains(t, err, "Pulumi.nope.yaml: no such file or directory")
	assert.ErrorContains(t, err, "the stacks in "+root+" are: production, staging")
	assert.NotContains(t, err.Error(), "an example holds it")
}

// A documented stack is among the examples: previewing it from the project's root names the -dir that finds it.
func TestPreviewNamesTheExampleThatHoldsAStack(t *testing.T) {
	root := offlinetest.Root()
	t.Chdir(root)
	err := preview.Print(&strings.Builder{}, root, "fleet", preview.Text, "")
	assert.ErrorContains(t, err, "Pulumi.fleet.yaml: no such file or directory")
	assert.ErrorContains(t, err, "the stacks in "+root+" are: production, staging; an example holds it: "+
		"-dir examples/fleet")
}

func TestPreviewNamesTheFileAndLineOfAYAMLError(t *testing.T) {
	dir := t.TempDir()
	stack := "config:\n  aws:region: ap-southeast-1\n  appstack:services:\n    - name: web\n      port: 8080\n" +
		"     image: x\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(stack), 0o600))
	err := preview.Print(&strings.Builder{}, dir, "dev", preview.Text, "")
	assert.ErrorContains(t, err, filepath.Join(dir, "Pulumi.dev.yaml")+":6: ")
}

func TestAWaiverThatMatchesNothingFailsThePreview(t *testing.T) {
	t.Chdir(offlinetest.Root())
	f := offlinetest.StackConfig(t, "staging", map[string]string{"appstack:waivers": `[` +
		`{"rule":"APPSTACK-NET-007","reason":"a public page"},` +
		`{"rule":"APPSTACK-EC2-010","reason":"a public page"},` +
		`{"rule":"APPSTACK-SNS-001","reason":"no longer needed"}]`})
	_, err := preview.RunConfig(".", "staging", f)
	require.Error(t, err)
	assert.ErrorContains(t, err, "appstack:waivers[2].rule: the waiver of APPSTACK-SNS-001 matches nothing")
	assert.NotContains(t, err.Error(), "APPSTACK-NET-007 matches nothing")
}

func TestADiffThatReplacesProductionDataFailsThePreview(t *testing.T) {
	base := report(t, "production", map[string]string{
		"appstack:tables": `[{"name":"events","hashKey":"eventId","ttlAttribute":"expiresAt"}]`})
	path := filepath.Join(t.TempDir(), "base.json")
	var js strings.Builder
	require.NoError(t, base.WriteJSON(&js))
	require.NoError(t, os.WriteFile(path, []byte(js.String()), 0o600))

	var out strings.Builder
	err := preview.Print(&out, ".", "production", preview.Text, path)
	assert.Contains(t, out.String(), "!! PRODUCTION DATA: aws:dynamodb/table:Table app-events-table would be replaced")
	require.True(t, errors.Is(err, preview.ErrProductionData), "err = %v", err)
	assert.False(t, errors.Is(err, preview.ErrFindings))

	t.Run("a diff that keeps production data passes", func(t *testing.T) {
		same := filepath.Join(t.TempDir(), "same.json")
		var js strings.Builder
		require.NoError(t, report(t, "production", nil).WriteJSON(&js))
		require.NoError(t, os.WriteFile(same, []byte(js.String()), 0o600))
		require.NoError(t, preview.Print(&strings.Builder{}, ".", "production", preview.Text, same))
	})
}
