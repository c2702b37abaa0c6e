package components_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/table"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const tableType = "aws:dynamodb/table:Table"

func TestTableIsOnDemandRecoverableAndEncrypted(t *testing.T) {
	res := offlinetest.Run(t, program(table.New, "events", &table.Args{HashKey: "order_id", KmsKeyArn: pulumi.String("arn:aws:kms:k")}))
	tbl := offlinetest.One(t, res, tableType)
	assert.Equal(t, "PAY_PER_REQUEST", offlinetest.Str(t, tbl, "billingMode"))
	assert.True(t, offlinetest.Bool(t, tbl, "pointInTimeRecovery.enabled"))
	assert.True(t, offlinetest.Bool(t, tbl, "serverSideEncryption.enabled"))
	assert.Equal(t, "arn:aws:kms:k", offlinetest.Str(t, tbl, "serverSideEncryption.kmsKeyArn"))
	assert.False(t, offlinetest.Bool(t, tbl, "deletionProtectionEnabled"))
	assert.False(t, tbl.Protect)
	assert.False(t, tbl.RetainOnDelete)
	_, hasTTL := offline.Lookup(tbl.Inputs, "ttl")
	assert.False(t, hasTTL)
}

func TestProtectedTableIsProtectedAndRetained(t *testing.T) {
	res := offlinetest.Run(t, program(table.New, "events", &table.Args{HashKey: "id", Protect: true}))
	tbl := offlinetest.One(t, res, tableType)
	assert.True(t, offlinetest.Bool(t, tbl, "deletionProtectionEnabled"))
	assert.True(t, tbl.Protect, "pulumi refuses to delete it")
	assert.True(t, tbl.RetainOnDelete, "a forced delete leaves the table in AWS")
}

func TestOnlyKeyAttributesAreDeclared(t *testing.T) {
	for _, tc := range []struct {
		name string
		args table.Args
		want []map[string]any
	}{
		{"hash key only", table.Args{HashKey: "id", TTLAttribute: "expiresAt"},
			[]map[string]any{{"name": "id", "type": "S"}}},
		{"hash and range keys", table.Args{HashKey: "pk", HashKeyType: "N", RangeKey: "sk", TTLAttribute: "ttl"},
			[]map[string]any{{"name": "pk", "type": "N"}, {"name": "sk", "type": "S"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := offlinetest.One(t, offlinetest.Run(t, program(table.New, "events", &tc.args)), tableType)
			attrs := offlinetest.Prop(t, tbl, "attributes").ArrayValue()
			require.Len(t, attrs, len(tc.want), "a TTL attribute is not a key and must not be declared")
			for i, a := range attrs {
				assert.Equal(t, tc.want[i], a.ObjectValue().Mappable())
			}
			assert.Equal(t, tc.args.TTLAttribute, offlinetest.Str(t, tbl, "ttl.attributeName"))
			assert.True(t, offlinetest.Bool(t, tbl, "ttl.enabled"))
		})
	}
}

func TestBadKeysAreRejected(t *testing.T) {
	for _, tc := range []struct {
		args table.Args
		want string
	}{
		{table.Args{}, `table "events": HashKey is required`},
		{table.Args{HashKey: "id", HashKeyType: "X"}, `table "events": key type "X": want S, N or B`},
		{table.Args{HashKey: "id", RangeKey: "id"}, `table "events": RangeKey "id" is also the HashKey`},
		{table.Args{HashKey: "id", TTLAttribute: "id"}, `table "events": TTLAttribute "id" is a key attribute`},
	} {
		_, err := offlinetest.RunErr(program(table.New, "events", &tc.args))
		assert.ErrorContains(t, err, tc.want)
	}
}
