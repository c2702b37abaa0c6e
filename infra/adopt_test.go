package infra

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/internal/offline/offlinetest"
	"appstack/policy"
)

const allocation = "eipalloc-0a1b2c3d4e5f60718"

// adopting is a stack's config that adopts seed 000's table, repository and address, stating the settings
// they have (appstack's defaults unless given).
func adopting(t *testing.T, stack, table, repo string) map[string]string {
	t.Helper()
	cfg := stackFile(t, stack).Config
	cfg["appstack:tables"] = `[{"name":"trading-data","hashKey":"order_id","adopt":{"name":"mexc_trading_data"` +
		table + `}}]`
	cfg["appstack:services"] = `[{"name":"web","port":8080,"build":{"context":"app"},` +
		`"adoptRepository":{"name":"mexc-sniper-rust"` + repo + `}}]`
	cfg["appstack:adoptAddress"] = allocation
	return cfg
}

func TestAdoptedResourcesKeepTheirPhysicalNamesAndAddress(t *testing.T) {
	res := mustRun(t, "production", adopting(t, "production", "", ""))

	tbl := offlinetest.One(t, res, tableType)
	assert.Equal(t, "mexc_trading_data", tbl.Import, "imported by its name")
	assert.Equal(t, "mexc_trading_data", offlinetest.Str(t, tbl, "name"), "the physical name is kept, _ and all")
	assert.True(t, tbl.Protect && tbl.RetainOnDelete, "adopted production data is protected like created data")
	assert.True(t, offlinetest.Bool(t, tbl, "deletionProtectionEnabled"))

	repo := offlinetest.One(t, res, repoType)
	assert.Equal(t, "mexc-sniper-rust", repo.Import)
	assert.Equal(t, "mexc-sniper-rust", offlinetest.Str(t, repo, "name"))
	assert.True(t, repo.RetainOnDelete, "the images outlive the stack")

	eip := offlinetest.One(t, res, eipType)
	assert.Equal(t, allocation, eip.Import)
	assert.True(t, eip.Protect && eip.RetainOnDelete)
	assoc := offlinetest.One(t, res, "aws:ec2/eipAssociation:EipAssociation")
	assert.Equal(t, allocation, offlinetest.Str(t, assoc, "allocationId"), "the new host gets the known address")

	assert.Equal(t, map[string]string{"trading-data": "mexc_trading_data"}, res.Exports["tableNames"])
	ud := offlinetest.Str(t, offlinetest.One(t, res, instanceType), "userData")
	assert.Contains(t, ud, "mexc-sniper-rust@sha256:", "the service's image goes to the adopted repository")
	assert.Empty(t, openFindings(t, res, adopting(t, "production", "", "")),
		"settings at appstack's defaults: the first up brings the resources to them, visibly, as updates")
}

func TestAdoptionOutsideProductionRetainsTheResources(t *testing.T) {
	res := mustRun(t, "staging", adopting(t, "staging", "", ""))
	for _, typ := range []string{tableType, repoType, eipType} {
		r := offlinetest.One(t, res, typ)
		assert.True(t, r.RetainOnDelete, "%s: a destroy hands back what the stack adopted", typ)
		assert.NotEmpty(t, r.Import, typ)
	}
}

func TestAdoptedResourcesThatMissADefaultAreFlaggedWithTheFix(t *testing.T) {
	cfg := adopting(t, "production", `,"pointInTimeRecovery":false,"encryption":"aws-owned"`,
		`,"mutability":"MUTABLE","scanOnPush":false,"encryption":"AES256"`)
	res := mustRun(t, "production", cfg)

	tbl := offlinetest.One(t, res, tableType)
	assert.False(t, offlinetest.Bool(t, tbl, "pointInTimeRecovery.enabled"), "declared as it is: no silent change")
	assert.False(t, offlinetest.Bool(t, tbl, "serverSideEncryption.enabled"))
	repo := offlinetest.One(t, res, repoType)
	assert.Equal(t, "MUTABLE", offlinetest.Str(t, repo, "imageTagMutability"))
	assert.Equal(t, "AES256", offlinetest.Str(t, repo, "encryptionConfigurations[0].encryptionType"))

	fixes := map[string]string{}
	for _, f := range openFindings(t, res, cfg) {
		fixes[f.Rule] = f.Fix
	}
	for rule, want := range map[string]string{
		"APPSTACK-DDB-001": "set tables[].adopt.pointInTimeRecovery: true",
		"APPSTACK-DDB-002": "set tables[].adopt.encryption: stack-key",
		"APPSTACK-ECR-001": "set services[].adoptRepository.mutability: IMMUTABLE",
		"APPSTACK-ECR-002": "set services[].adoptRepository.scanOnPush: true",
		"APPSTACK-ECR-003": "ECR cannot change a repository's encryption",
	} {
		assert.Contains(t, fixes[rule], want, rule)
		assert.Contains(t, fixes[rule], "(adopted ", rule)
	}
}

func TestCreatedResourcesGetThePlainFix(t *testing.T) {
	res := mustRun(t, "staging", stackFile(t, "staging").Config)
	tbl := offlinetest.One(t, res, tableType)
	tbl.Inputs = nil // every setting missing
	found, _ := policy.Review([]offline.Resource{tbl}, nil)
	require.NotEmpty(t, found)
	for _, f := range found {
		assert.False(t, strings.Contains(f.Fix, "adopted"), "%s: %s", f.Rule, f.Fix)
	}
}

func TestAdoptedNamesFollowAWSRules(t *testing.T) {
	for _, tc := range []struct {
		name, key, value, want string
	}{
		{"a table name too short", "appstack:tables", `[{"name":"t","hashKey":"id","adopt":{"name":"ab"}}]`,
			`appstack:tables[0].adopt.name: "ab": a DynamoDB table name is 3-255`},
		{"a table name with a slash", "appstack:tables", `[{"name":"t","hashKey":"id","adopt":{"name":"a/b"}}]`,
			`appstack:tables[0].adopt.name: "a/b"`},
		{"an unknown table encryption", "appstack:tables",
			`[{"name":"t","hashKey":"id","adopt":{"name":"mexc_trading_data","encryption":"cmk"}}]`,
			`appstack:tables[0].adopt.encryption: "cmk"`},
		{"an upper-case repository", "appstack:services",
			`[{"name":"web","port":8080,"build":{"context":"app"},"adoptRepository":{"name":"Mexc"}}]`,
			`appstack:services[0].adoptRepository.name: "Mexc"`},
		{"a bad mutability", "appstack:services",
			`[{"name":"web","port":8080,"build":{"context":"app"},"adoptRepository":{"name":"mexc","mutability":"x"}}]`,
			`appstack:services[0].adoptRepository.mutability: "x"`},
		{"an address by IP, not allocation id", "appstack:adoptAddress", "203.0.113.7",
			`appstack:adoptAddress: "203.0.113.7" is not an Elastic IP allocation id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackFile(t, "staging").Config
			cfg[tc.key] = tc.value
			res, err := run(t, "staging", cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, res.Resources, "nothing is registered")
		})
	}
}
