package preview_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/preview"
	"appstack/policy"
	"appstack/testing/offlinetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func report(t *testing.T, stack string, changes map[string]string, secretKeys ...string) *preview.Report {
	t.Helper()
	t.Chdir(offlinetest.Root())
	f := offlinetest.StackConfig(t, stack, changes)
	f.SecretKeys = append(f.SecretKeys, secretKeys...)
	r, err := preview.RunConfig(".", stack, f)
	require.NoError(t, err)
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(offlinetest.Root(), "internal", "preview", "testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run: go test ./internal/preview -update")
	assert.Equal(t, string(want), string(got), "%s differs; if the change is intended: go test ./internal/preview "+
		"-update", name)
}

func TestGoldenReports(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			r := report(t, stack, nil)
			var text, js bytes.Buffer
			require.NoError(t, r.WriteText(&text))
			require.NoError(t, r.WriteJSON(&js))
			golden(t, stack+".txt", text.Bytes())
			golden(t, stack+".json", js.Bytes())
			again := report(t, stack, nil)
			var js2 bytes.Buffer
			require.NoError(t, again.WriteJSON(&js2))
			assert.Equal(t, js.String(), js2.String(), "two runs give the same JSON")
		})
	}
}

func TestReportContents(t *testing.T) {
	r := report(t, "production", nil)
	assert.Empty(t, r.Findings)
	require.Len(t, r.Waived, 3)
	assert.Equal(t, "ESTIMATE: list prices, not a quote", r.Cost.Label)
	assert.Greater(t, r.Cost.TotalUSD, 30.0)
	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	for _, want := range []string{fmt.Sprintf("Policy: %d rules, 0 open findings, 3 waived", len(policy.Rules)),
		"[waived] APPSTACK-NET-007", "Reason: the sample service is a public web page",
		"[waived] APPSTACK-NET-008", "production serves port 8080 to the whole internet without TLS",
		"EC2 t3.medium", "EC2 detailed monitoring", "[protect] [retainOnDelete]"} {
		assert.Contains(t, text.String(), want)
	}
}

func TestSecretsAreMaskedInTheReport(t *testing.T) {
	r := report(t, "staging", map[string]string{
		"appstack:secrets":  `{"JWT_SECRET":"canary-91f-secret"}`,
		"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},"secrets":["JWT_SECRET"]}]`,
	}, "appstack:secrets")
	var js, text bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	require.NoError(t, r.WriteText(&text))
	assert.NotContains(t, js.String()+text.String(), "canary-91f-secret")
	assert.Contains(t, js.String(), `"value": "[secret]"`)
}

func TestJSONReportRoundTrips(t *testing.T) {
	r := report(t, "staging", nil)
	path := filepath.Join(t.TempDir(), "base.json")
	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	require.NoError(t, os.WriteFile(path, js.Bytes(), 0o600))
	back, err := preview.ReadReport(path)
	require.NoError(t, err)
	assert.Empty(t, preview.Diff(back, r), "a report read back differs from itself in nothing")
}

func TestDiffOfANewServiceAndAChangedPort(t *testing.T) {
	base := report(t, "staging", nil)
	head := report(t, "staging", map[string]string{"appstack:services": `[` +
		`{"name":"web","port":8081,"build":{"context":"app"}},` +
		`{"name":"api","port":9090,"image":"public.ecr.aws/appstack/api@sha256:` + strings.Repeat("ab", 32) + `"}]`})
	changes := preview.Diff(base, head)
	byName := map[string]preview.Change{}
	for _, c := range changes {
		byName[c.Kind+" "+c.Name] = c
	}
	assert.Contains(t, byName, "add app-network-in-8081-0-0-0-0-0")
	assert.Contains(t, byName, "add app-network-in-9090-0-0-0-0-0")
	assert.Contains(t, byName, "remove app-network-in-8080-0-0-0-0-0")
	host := byName["change app-host-instance"]
	assert.Equal(t, []string{"userData"}, host.ReplaceBecause, "a new boot script is a new host")
	assoc := byName["change app-host-eip-assoc"]
	assert.Equal(t, []string{"instanceId"}, assoc.ReplaceBecause)
	_, eipChanged := byName["change app-host-eip"]
	assert.False(t, eipChanged, "the Elastic IP itself does not change")

	var out bytes.Buffer
	require.NoError(t, preview.WriteDiff(&out, base, head, changes))
	text := out.String()
	assert.Contains(t, text, "+- aws:ec2/instance:Instance app-host-instance  REPLACE because of userData")
	assert.Contains(t, text, "+ printf '%s\\n' 'PORT=8081'")
	assert.Contains(t, text, "- printf '%s\\n' 'PORT=8080'")
	assert.Contains(t, text, "+- aws:ec2/eipAssociation:EipAssociation app-host-eip-assoc  REPLACE because of instanceId")
	assert.NotContains(t, text, "fromPort", "a port change renames the rule: one removed, one added")
}

func TestDiffCallsOutProductionData(t *testing.T) {
	base := report(t, "production", nil)
	head := report(t, "production", map[string]string{
		"appstack:tables": `[{"name":"events","hashKey":"eventId","ttlAttribute":"expiresAt"}]`})
	changes := preview.Diff(base, head)
	var table preview.Change
	for _, c := range changes {
		if c.Name == "app-events-table" {
			table = c
		}
	}
	assert.Equal(t, []string{"hashKey"}, table.ReplaceBecause)
	assert.True(t, table.ProductionData)
	assert.True(t, table.Protected)
	var out bytes.Buffer
	require.NoError(t, preview.WriteDiff(&out, base, head, changes))
	assert.Contains(t, out.String(), "!! PRODUCTION DATA: aws:dynamodb/table:Table app-events-table would be replaced")
	assert.Contains(t, out.String(), "!! PROTECTED: aws:dynamodb/table:Table app-events-table")
}

func TestDiffCallsALocalIndexChangeAReplacement(t *testing.T) {
	// terraform-provider-aws marks local_secondary_index ForceNew (internal/service/dynamodb/table.go).
	table := func(index string) map[string]string {
		return map[string]string{"appstack:tables": `[{"name":"events","hashKey":"id","rangeKey":"at",` +
			`"adopt":{"name":"events_table","localSecondaryIndexes":[{"name":"` + index + `","rangeKey":"price"}]}}]`}
	}
	changes := preview.Diff(report(t, "production", table("by-price")), report(t, "production", table("by-cost")))
	var got preview.Change
	for _, c := range changes {
		if c.Name == "app-events-table" {
			got = c
		}
	}
	assert.Equal(t, []string{"localSecondaryIndexes"}, got.ReplaceBecause)
}

// A pull request that replaces a production table and also moves the production stack file to another
// environment is still judged as production's, and the move is itself a production-data change.
func TestAnEnvironmentChangeDoesNotHideProductionData(t *testing.T) {
	base := report(t, "production", nil)
	head := report(t, "production", map[string]string{
		"appstack:environment": "staging",
		"appstack:tables":      `[{"name":"events","hashKey":"pk","ttlAttribute":"expiresAt"}]`,
		// Outside production, serving plain HTTP needs no waiver, and an unused waiver is an error.
		"appstack:waivers": `[{"rule":"APPSTACK-NET-007","reason":"a public page"},` +
			`{"rule":"APPSTACK-EC2-010","reason":"no NAT gateway"}]`})
	changes := preview.Diff(base, head)
	var out bytes.Buffer
	require.NoError(t, preview.WriteDiff(&out, base, head, changes))
	assert.Contains(t, out.String(), "!! PRODUCTION DATA: aws:dynamodb/table:Table app-events-table would be replaced")
	assert.Contains(t, out.String(), `!! PRODUCTION DATA: stack production moves appstack:environment from "production" to "staging"`)
}

// An alias names the resource a head resource was; one of another type is no rename, and the base resource
// is removed.
func TestAnAliasOfAnotherTypeDoesNotKeepATable(t *testing.T) {
	base := report(t, "production", nil)
	head := report(t, "production", nil)
	var table string
	for _, r := range base.Resources {
		if r.Type == "aws:dynamodb/table:Table" {
			table = r.URN
		}
	}
	require.NotEmpty(t, table)
	var kept []preview.Resource
	for _, r := range head.Resources {
		switch {
		case r.URN == table:
			continue
		case r.Type == "aws:cloudwatch/logGroup:LogGroup":
			// A new log group that claims to have been the table.
			r.URN, r.Name = r.URN+"-new", r.Name+"-new"
			r.Options.Aliases = append(r.Options.Aliases, table)
		}
		kept = append(kept, r)
	}
	head.Resources = kept
	var removed *preview.Change
	for _, c := range preview.Diff(base, head) {
		assert.Empty(t, c.RenamedFrom, "%s is no rename of the table", c.Name)
		if c.URN == table {
			removed = &c
		}
	}
	require.NotNil(t, removed, "the table is removed")
	assert.Equal(t, "remove", removed.Kind)
	assert.True(t, removed.ProductionData)
}
