package preview_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/preview"
	"appstack/testing/offlinetest"
)

// exampleReport previews examples/<team>/Pulumi.<stack>.yaml as `go run ./cmd/preview -dir examples/<team>
// -stack <stack>` does: from the example's directory, which its build contexts are relative to.
func exampleReport(t *testing.T, team, stack string) *preview.Report {
	t.Helper()
	dir := filepath.Join(offlinetest.Root(), "examples", team)
	t.Chdir(dir)
	r, err := preview.Run(".", stack)
	require.NoError(t, err, "examples/%s/Pulumi.%s.yaml", team, stack)
	return r
}

func TestEveryExamplePreviewsWithoutOpenFindings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(offlinetest.Root(), "examples", "*", "Pulumi.*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 2, "examples/<team>/Pulumi.<stack>.yaml")
	for _, f := range files {
		team := filepath.Base(filepath.Dir(f))
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Run(team+"/"+stack, func(t *testing.T) {
			r := exampleReport(t, team, stack)
			assert.Empty(t, r.Findings, "open policy findings")
			for _, w := range r.Waived {
				assert.NotEmpty(t, w.Waiver, "%s is waived with a reason", w.Rule)
			}
			_, err := os.Stat(filepath.Join(filepath.Dir(f), "README.md"))
			assert.NoError(t, err, "each example has a README")
		})
	}
}

// byType returns the report's resources of one type.
func byType(r *preview.Report, typ string) []preview.Resource {
	var out []preview.Resource
	for _, res := range r.Resources {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

func TestTheRustBackendExample(t *testing.T) {
	r := exampleReport(t, "mexc-sniper", "production")
	assert.Equal(t, "production", r.Environment)
	host := byType(r, "aws:ec2/instance:Instance")
	require.Len(t, host, 1)
	assert.Equal(t, "t3.medium", host[0].Inputs["instanceType"], "a production-sized instance")
	ingress := byType(r, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
	require.Len(t, ingress, 1)
	assert.EqualValues(t, 8080, ingress[0].Inputs["fromPort"])
	assert.Equal(t, map[string]string{"backend": "http://203.0.113.57:8080/health"}, r.Outputs["healthUrls"])
	ud := fmt.Sprint(host[0].Inputs["userData"])
	assert.NotContains(t, ud, "offline-placeholder-secret", "secret values never reach user-data")

	tables := byType(r, "aws:dynamodb/table:Table")
	require.Len(t, tables, 1)
	assert.Equal(t, "order_id", tables[0].Inputs["hashKey"])
	assert.Equal(t, []any{map[string]any{"name": "order_id", "type": "S"}}, tables[0].Inputs["attributes"])
	assert.True(t, tables[0].Options.Protect, "production trading data is protected")
	assert.Equal(t, "mexc_trading_data", tables[0].Options.Import, "the existing table is adopted, not created")
	assert.Equal(t, "mexc_trading_data", tables[0].Inputs["name"], "its physical name is kept")
	repos := byType(r, "aws:ecr/repository:Repository")
	require.Len(t, repos, 1)
	assert.Equal(t, "mexc-sniper-rust", repos[0].Options.Import)
	eips := byType(r, "aws:ec2/eip:Eip")
	require.Len(t, eips, 1)
	assert.Equal(t, "eipalloc-0123456789abcdef0", eips[0].Options.Import, "the address users know")
	var text strings.Builder
	require.NoError(t, r.WriteText(&text))
	assert.Contains(t, text.String(), "aws:dynamodb/table:Table app-trading-data-table <- existing mexc_trading_data",
		"the preview says what will be imported")

	var params []string
	for _, p := range byType(r, "aws:ssm/parameter:Parameter") {
		params = append(params, fmt.Sprint(p.Inputs["name"]))
		assert.Equal(t, preview.Secret, p.Inputs["value"])
	}
	assert.ElementsMatch(t, []string{"/appstack/production/app/secrets/JWT_SECRET",
		"/appstack/production/app/secrets/MEXC_API_KEY", "/appstack/production/app/secrets/MEXC_SECRET_KEY"}, params)
}

func TestTheStreamlitExample(t *testing.T) {
	r := exampleReport(t, "quant-finance", "production")
	host := byType(r, "aws:ec2/instance:Instance")
	require.Len(t, host, 1, "one host")
	assert.Equal(t, "t3.small", host[0].Inputs["instanceType"], "a small host")
	var ports []float64
	for _, in := range byType(r, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
		ports = append(ports, in.Inputs["fromPort"].(float64))
	}
	assert.ElementsMatch(t, []float64{8501, 8502, 8503, 8504}, ports)
	assert.Len(t, byType(r, "docker:index/image:Image"), 4, "each app built from its Dockerfile")
	health, ok := r.Outputs["healthUrls"].(map[string]string)
	require.True(t, ok, "healthUrls: %T", r.Outputs["healthUrls"])
	require.Len(t, health, 4)
	for name, u := range health {
		assert.True(t, strings.HasSuffix(u, "/_stcore/health"), "%s: %s", name, u)
	}
}

// mdLinkRE is a relative markdown link target.
var mdLinkRE = regexp.MustCompile(`\]\(([^)#:]+)\)`)

func TestTheREADMELinksTheExamplesAndTheMigrationGuide(t *testing.T) {
	root := offlinetest.Root()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	for _, want := range []string{"(examples/mexc-sniper)", "(examples/quant-finance)", "(examples/frontdoor)",
		"(examples/fleet)", "(docs/migration.md)"} {
		assert.Contains(t, string(readme), want)
	}
	// Every relative link of the guide and the examples' READMEs resolves.
	for _, doc := range []string{"docs/migration.md", "examples/mexc-sniper/README.md",
		"examples/quant-finance/README.md", "examples/frontdoor/README.md", "examples/fleet/README.md"} {
		raw, err := os.ReadFile(filepath.Join(root, doc))
		require.NoError(t, err)
		for _, m := range mdLinkRE.FindAllStringSubmatch(string(raw), -1) {
			_, err := os.Stat(filepath.Join(root, filepath.Dir(doc), m[1]))
			assert.NoError(t, err, "%s links %s", doc, m[1])
		}
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "migration.md"))
	require.NoError(t, err)
	for _, key := range []string{"tables[].adopt", "services[].adoptRepository", "adoptAddress", "registryAuth",
		"GHCR_TOKEN", "Going back"} {
		assert.Contains(t, string(guide), key)
	}
}
