package infra

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/policy"
	"appstack/testing/offlinetest"
)

const (
	allocation    = "eipalloc-0a1b2c3d4e5f60718"
	lifecycleType = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
)

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
	const atDefaults = `,"mutability":"IMMUTABLE","lifecyclePolicy":true`
	res := mustRun(t, "production", adopting(t, "production", "", atDefaults))

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
	assert.Empty(t, openFindings(t, res, adopting(t, "production", "", atDefaults)),
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
	found, _ := policy.Review([]policy.Resource{tbl.Policy()}, nil)
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

func TestAnAdoptedTableOnTheStackKeyStaysReadableAfterADestroy(t *testing.T) {
	for _, tc := range []struct {
		name, table string
		retained    bool
	}{
		{"a table moved to the stack key retains the key", "", true},
		{"a table on DynamoDB's own key needs no retained key", `,"encryption":"aws-owned"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustRun(t, "staging", adopting(t, "staging", tc.table, ""))
			key := offlinetest.One(t, res, kmsKeyType)
			assert.Equal(t, tc.retained, key.RetainOnDelete, "a destroy must not schedule the deletion of a key "+
				"that a retained table is encrypted with")
			assert.False(t, key.Protect, "retained, not protected: a staging destroy still goes through")
		})
	}
	created := offlinetest.One(t, mustRun(t, "staging", stackFile(t, "staging").Config), kmsKeyType)
	assert.False(t, created.RetainOnDelete, "a staging stack's own tables go with its key")
}

func TestAnAdoptedTableKeepsItsStreamCapacityAndLocalIndexes(t *testing.T) {
	cfg := adopting(t, "production", `,"stream":"NEW_AND_OLD_IMAGES","billingMode":"PROVISIONED",`+
		`"readCapacity":5,"writeCapacity":3,"localSecondaryIndexes":[{"name":"by-time","rangeKey":"created_at",`+
		`"rangeKeyType":"N","projection":"INCLUDE","nonKeyAttributes":["price"]}]`, "")
	cfg["appstack:tables"] = strings.Replace(cfg["appstack:tables"], `"hashKey":"order_id"`,
		`"hashKey":"order_id","rangeKey":"symbol"`, 1)
	tbl := offlinetest.One(t, mustRun(t, "production", cfg), tableType)

	assert.True(t, offlinetest.Bool(t, tbl, "streamEnabled"), "the stream is kept")
	assert.Equal(t, "NEW_AND_OLD_IMAGES", offlinetest.Str(t, tbl, "streamViewType"))
	assert.Equal(t, "PROVISIONED", offlinetest.Str(t, tbl, "billingMode"), "a provisioned table stays provisioned")
	assert.Equal(t, 5.0, offlinetest.Num(t, tbl, "readCapacity"))
	assert.Equal(t, 3.0, offlinetest.Num(t, tbl, "writeCapacity"))
	assert.Equal(t, "by-time", offlinetest.Str(t, tbl, "localSecondaryIndexes[0].name"),
		"a local index is declared, so that the import is not a (refused) replacement")
	assert.Equal(t, "created_at", offlinetest.Str(t, tbl, "localSecondaryIndexes[0].rangeKey"))
	assert.Equal(t, "INCLUDE", offlinetest.Str(t, tbl, "localSecondaryIndexes[0].projectionType"))
	assert.Equal(t, "price", offlinetest.Str(t, tbl, "localSecondaryIndexes[0].nonKeyAttributes[0]"))
	assert.Equal(t, "created_at", offlinetest.Str(t, tbl, "attributes[2].name"), "the index key is an attribute")
	assert.Equal(t, "N", offlinetest.Str(t, tbl, "attributes[2].type"))

	plain := offlinetest.One(t, mustRun(t, "production", adopting(t, "production", "", "")), tableType)
	assert.Equal(t, "PAY_PER_REQUEST", offlinetest.Str(t, plain, "billingMode"))
	assert.Nil(t, plain.Inputs["streamEnabled"].V, "no stream stated, none declared")
}

func TestTableAdoptionSettingsAreCheckedNamingTheKey(t *testing.T) {
	for _, tc := range []struct{ name, adopt, table, want string }{
		{"an unknown stream view type", `,"stream":"ALL"`, "",
			`appstack:tables[0].adopt.stream: "ALL": want one of NEW_IMAGE`},
		{"provisioned without capacity", `,"billingMode":"PROVISIONED","writeCapacity":2`, "",
			`appstack:tables[0].adopt.readCapacity: 0: a PROVISIONED table states its read capacity`},
		{"an unknown billing mode", `,"billingMode":"ON_DEMAND"`, "",
			`appstack:tables[0].adopt.billingMode: "ON_DEMAND": want PAY_PER_REQUEST or PROVISIONED`},
		{"a local index without the table's sort key", `,"localSecondaryIndexes":[{"name":"i","rangeKey":"t"}]`, "",
			`appstack:tables[0].adopt.localSecondaryIndexes: a table with local secondary indexes has a sort key`},
		{"a local index without its sort key", `,"localSecondaryIndexes":[{"name":"i"}]`, `,"rangeKey":"s"`,
			`appstack:tables[0].adopt.localSecondaryIndexes[0].rangeKey: required`},
		{"an INCLUDE projection without attributes",
			`,"localSecondaryIndexes":[{"name":"i","rangeKey":"t","projection":"INCLUDE"}]`, `,"rangeKey":"s"`,
			`appstack:tables[0].adopt.localSecondaryIndexes[0].nonKeyAttributes: required with projection: INCLUDE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackFile(t, "staging").Config
			cfg["appstack:tables"] = `[{"name":"t","hashKey":"id"` + tc.table + `,"adopt":{"name":"mexc_trading_data"` +
				tc.adopt + `}}]`
			res, err := run(t, "staging", cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, res.Resources, "nothing is registered")
		})
	}
}

func TestAnAdoptedRepositoryKeepsItsTagsAndHistory(t *testing.T) {
	res := mustRun(t, "production", adopting(t, "production", "", ""))
	repo := offlinetest.One(t, res, repoType)
	assert.Nil(t, repo.Inputs["imageTagMutability"].V, "no mutability stated: none declared")
	assert.Contains(t, repo.IgnoreChanges, "imageTagMutability",
		"the import keeps the mutability it reads, so a moving tag can still be pushed")
	assert.Empty(t, res.OfType(lifecycleType), "no lifecycle policy expires the adopted repository's images")

	fixes := map[string]string{}
	for _, f := range openFindings(t, res, adopting(t, "production", "", "")) {
		fixes[f.Rule] = f.Fix
	}
	assert.Contains(t, fixes["APPSTACK-ECR-001"], "set services[].adoptRepository.mutability: IMMUTABLE")
	assert.Contains(t, fixes["APPSTACK-ECR-006"], "set services[].adoptRepository.lifecyclePolicy: true")

	stated := mustRun(t, "production", adopting(t, "production", "",
		`,"mutability":"IMMUTABLE","lifecyclePolicy":true`))
	repo = offlinetest.One(t, stated, repoType)
	assert.Equal(t, "IMMUTABLE", offlinetest.Str(t, repo, "imageTagMutability"), "stated: set in place")
	assert.NotContains(t, repo.IgnoreChanges, "imageTagMutability")
	assert.Len(t, stated.OfType(lifecycleType), 1, "asked for: the lifecycle policy goes on")
}
