//go:build engine

package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	adoptedTable   = "mexc_trading_data"
	adoptedRepo    = "mexc-sniper-rust"
	adoptedAddress = "eipalloc-0a1b2c3d4e5f60718"
	knownIP        = "203.0.113.77"
)

// existingWorld writes what exists before the stack adopts it, as the stand-in reads it back on an import
// (testing/standin/existing.go): seed 000's hand-made table (no point-in-time recovery, DynamoDB's own key),
// its repository (ECR's defaults: mutable, no scan, AES256) and the address its users know.
func (e *engine) existingWorld(t *testing.T) {
	t.Helper()
	world := map[string]map[string]any{
		"aws:dynamodb/table:Table": {adoptedTable: map[string]any{"inputs": map[string]any{
			"name": adoptedTable, "hashKey": "order_id", "billingMode": "PAY_PER_REQUEST",
			"attributes":                []any{map[string]any{"name": "order_id", "type": "S"}},
			"pointInTimeRecovery":       map[string]any{"enabled": false},
			"serverSideEncryption":      map[string]any{"enabled": false},
			"deletionProtectionEnabled": false,
		}}},
		"aws:ecr/repository:Repository": {adoptedRepo: map[string]any{"inputs": map[string]any{
			"name": adoptedRepo, "imageTagMutability": "MUTABLE",
			"imageScanningConfiguration": map[string]any{"scanOnPush": false},
			"encryptionConfigurations":   []any{map[string]any{"encryptionType": "AES256"}},
		}}},
		"aws:ec2/eip:Eip": {adoptedAddress: map[string]any{"inputs": map[string]any{"domain": "vpc"},
			"outputs": map[string]any{"publicIp": knownIP}}},
	}
	raw, err := json.Marshal(world)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.registry, "existing.json"), raw, 0o600))
}

func setPath(t *testing.T, ctx context.Context, st auto.Stack, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		require.NoError(t, st.SetConfigWithOptions(ctx, kv[i], auto.ConfigValue{Value: kv[i+1]},
			&auto.ConfigOptions{Path: true}), kv[i])
	}
}

// Adopting seed 000's table, repository and address on the real engine: the stand-in answers each import's
// Read as the AWS provider would, nothing is created or deleted in their place, the physical names and the
// address stay, and a later up changes nothing.
func TestAdoptionOnTheRealEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	e.existingWorld(t)
	st, err := e.m.Stack(ctx, "staging")
	require.NoError(t, err)
	require.NoError(t, st.RemoveConfigWithOptions(ctx, "appstack:tables[0].ttlAttribute",
		&auto.ConfigOptions{Path: true}))
	setPath(t, ctx, st,
		"appstack:tables[0].name", "trading-data",
		"appstack:tables[0].hashKey", "order_id",
		"appstack:tables[0].adopt.name", adoptedTable,
		// The repository's encryption cannot change in place (ECR), so the stack states it; its tag mutability
		// and its images are kept (no mutability stated, no lifecycle policy); scanning goes to appstack's
		// default by an update in place.
		"appstack:services[0].adoptRepository.name", adoptedRepo,
		"appstack:services[0].adoptRepository.encryption", "AES256",
		"appstack:waivers[2].rule", "APPSTACK-ECR-003",
		"appstack:waivers[2].reason", "the repository predates the stack and ECR cannot re-encrypt it",
		"appstack:waivers[3].rule", "APPSTACK-ECR-001",
		"appstack:waivers[3].reason", "the old pipeline pushes a moving tag until the cut-over is done",
		"appstack:waivers[4].rule", "APPSTACK-ECR-006",
		"appstack:waivers[4].reason", "the repository's older images are the old host's rollbacks",
		"appstack:adoptAddress", adoptedAddress)

	t.Run("the first up imports, then brings the settings to appstack's defaults in place", func(t *testing.T) {
		res, ops := e.up(t, ctx, "staging")
		for _, name := range []string{"app-trading-data-table", "app-web-repo", "app-host-eip"} {
			assert.Contains(t, ops[name], "import", "%s: %v", name, ops[name])
			assert.NotContains(t, ops[name], "create", name)
			assert.NotContains(t, ops[name], "replace", name)
			assert.NotContains(t, ops[name], "delete", name)
		}
		assert.Equal(t, knownIP, res.Outputs["publicIp"].Value, "the address users know")
		assert.Equal(t, map[string]any{"trading-data": adoptedTable}, res.Outputs["tableNames"].Value)
		tables := stateOf(t, ctx, st, "aws:dynamodb/table:Table")
		require.Len(t, tables, 1)
		assert.Equal(t, adoptedTable, tables[0]["name"])
		assert.Equal(t, true, tables[0]["pointInTimeRecovery"].(map[string]any)["enabled"])
		repos := stateOf(t, ctx, st, "aws:ecr/repository:Repository")
		require.Len(t, repos, 1)
		assert.Equal(t, "MUTABLE", repos[0]["imageTagMutability"], "the import keeps the mutability it read")
		assert.Empty(t, stateOf(t, ctx, st, "aws:ecr/lifecyclePolicy:LifecyclePolicy"),
			"no lifecycle policy expires the adopted repository's images")
		for _, c := range e.calls(t) {
			if c["op"] == "create" || c["op"] == "delete" {
				assert.NotContains(t, []string{"aws:dynamodb/table:Table", "aws:ecr/repository:Repository",
					"aws:ec2/eip:Eip"}, c["type"], "%v", c)
			}
		}
		assert.Equal(t, 1, e.count(t, "read", "aws:dynamodb/table:Table", adoptedTable))
		assert.Equal(t, 1, e.count(t, "read", "aws:ec2/eip:Eip", adoptedAddress))
	})

	t.Run("a later up changes nothing", func(t *testing.T) {
		before := len(e.calls(t))
		res, _ := e.up(t, ctx, "staging")
		for _, c := range e.calls(t)[before:] {
			// The build's docker.Image leaves the state once its tag is in the repository; pulumi-docker's
			// delete of it touches no image (components/image). Nothing else is created, changed or deleted.
			if c["type"] == "docker:index/image:Image" && c["op"] == "delete" {
				continue
			}
			assert.NotContains(t, []string{"create", "update", "delete", "read"}, c["op"], "%v", c)
		}
		assert.Equal(t, knownIP, res.Outputs["publicIp"].Value)
		_, ops := e.up(t, ctx, "staging")
		for name, o := range ops {
			for _, op := range o {
				assert.Equal(t, "same", op, name)
			}
		}
	})

	t.Run("a review stack copied from it creates its own resources", func(t *testing.T) {
		reads := e.count(t, "read", "aws:dynamodb/table:Table", adoptedTable)
		_, err := e.m.CreateReview(ctx, 31, "staging", 0)
		require.NoError(t, err)
		_, ops := e.up(t, ctx, "pr-31")
		for _, name := range []string{"app-trading-data-table", "app-web-repo", "app-host-eip"} {
			assert.Equal(t, []string{"create"}, ops[name], name)
		}
		assert.Equal(t, reads, e.count(t, "read", "aws:dynamodb/table:Table", adoptedTable),
			"the review stack never touches staging's table")
	})

	t.Run("adopting what does not exist fails with the provider's not-found, and keeps the address", func(t *testing.T) {
		setPath(t, ctx, st, "appstack:adoptAddress", "eipalloc-0fffffffffffffff0")
		_, err := e.tryUp(t, ctx, "staging")
		require.Error(t, err)
		// The engine names the resource's new id, still empty when the read found nothing
		// (pulumi/pulumi pkg/resource/deploy/step.go, ImportStep.Apply).
		assert.Contains(t, err.Error(), "app-host-eip **importing failed** error: resource '' does not exist")
		eips := stateOf(t, ctx, st, "aws:ec2/eip:Eip")
		require.Len(t, eips, 1)
		assert.Equal(t, 0, e.count(t, "delete", "aws:ec2/eip:Eip", adoptedAddress), "the known address stays")
	})
}

// count is how many calls of op on typ with this id the stand-in logged.
func (e *engine) count(t *testing.T, op, typ, id string) int {
	t.Helper()
	n := 0
	for _, c := range e.calls(t) {
		if c["op"] == op && c["type"] == typ && c["id"] == id {
			n++
		}
	}
	return n
}
