// Package table is the component that owns one DynamoDB table.
package table

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/dynamodb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/tags"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Table"

// Args configures a Table.
type Args struct {
	// HashKey is the partition key attribute. Required.
	HashKey string
	// HashKeyType is S, N or B. Default S.
	HashKeyType string
	// RangeKey is the sort key attribute. Optional.
	RangeKey string
	// RangeKeyType is S, N or B. Default S when RangeKey is set.
	RangeKeyType string
	// TTLAttribute turns on time to live on this non-key attribute. Optional.
	TTLAttribute string
	// KmsKeyArn encrypts the table with this customer-managed key. Optional: the AWS-managed DynamoDB key.
	KmsKeyArn pulumi.StringInput
	// Protect turns on deletion protection, pulumi protect and retain-on-delete: for production data.
	// Default false.
	Protect bool
	// Tags go on the table. Optional.
	Tags map[string]string
	// Adopt is the physical name of an existing table to adopt with pulumi import instead of creating one; the
	// table is then retained on delete in every environment, since it outlives the stack. Optional.
	Adopt string
	// NoPointInTimeRecovery declares point-in-time recovery off, only to match an adopted table that has it
	// off (the policy flags it). Default false.
	NoPointInTimeRecovery bool
	// AWSOwnedKey declares DynamoDB's AWS-owned key instead of KmsKeyArn, only to match an adopted table that
	// uses it (the policy flags it). Default false.
	AWSOwnedKey bool
	// StreamViewType turns on the table's stream with this view type (NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES,
	// KEYS_ONLY). Optional: no stream.
	StreamViewType string
	// ReadCapacity and WriteCapacity make the table PROVISIONED with these capacity units, both or neither.
	// Default: on-demand (PAY_PER_REQUEST).
	ReadCapacity, WriteCapacity int
	// LocalSecondaryIndexes are the table's local secondary indexes; they need RangeKey. Optional.
	LocalSecondaryIndexes []LocalIndex
}

// LocalIndex is a local secondary index: the table's partition key with another sort key.
type LocalIndex struct {
	// Name is the index's name. Required.
	Name string
	// RangeKey is the index's sort key attribute. Required.
	RangeKey string
	// RangeKeyType is S, N or B. Default S.
	RangeKeyType string
	// Projection is ALL, KEYS_ONLY or INCLUDE. Default ALL.
	Projection string
	// NonKeyAttributes are the attributes an INCLUDE projection copies. Optional.
	NonKeyAttributes []string
}

// Table is an on-demand DynamoDB table with point-in-time recovery and KMS encryption.
type Table struct {
	pulumi.ResourceState

	// Name is the table's physical name (generated, so that stacks never collide, or the adopted table's).
	Name pulumi.StringOutput
	// Arn scopes the host's permissions.
	Arn pulumi.StringOutput
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.HashKeyType == "" {
		out.HashKeyType = "S"
	}
	if out.RangeKey != "" && out.RangeKeyType == "" {
		out.RangeKeyType = "S"
	}
	out.LocalSecondaryIndexes = make([]LocalIndex, len(a.LocalSecondaryIndexes))
	for i, l := range a.LocalSecondaryIndexes {
		if l.RangeKeyType == "" {
			l.RangeKeyType = "S"
		}
		if l.Projection == "" {
			l.Projection = "ALL"
		}
		out.LocalSecondaryIndexes[i] = l
	}
	return out
}

func (a *Args) validate(name string) error {
	if a.HashKey == "" {
		return fmt.Errorf("table %q: HashKey is required", name)
	}
	for _, t := range []string{a.HashKeyType, a.RangeKeyType} {
		if t != "" && t != "S" && t != "N" && t != "B" {
			return fmt.Errorf("table %q: key type %q: want S, N or B", name, t)
		}
	}
	if a.RangeKey == a.HashKey {
		return fmt.Errorf("table %q: RangeKey %q is also the HashKey", name, a.RangeKey)
	}
	if a.TTLAttribute != "" && (a.TTLAttribute == a.HashKey || a.TTLAttribute == a.RangeKey) {
		return fmt.Errorf("table %q: TTLAttribute %q is a key attribute", name, a.TTLAttribute)
	}
	if (a.ReadCapacity > 0) != (a.WriteCapacity > 0) || a.ReadCapacity < 0 || a.WriteCapacity < 0 {
		return fmt.Errorf("table %q: ReadCapacity %d and WriteCapacity %d: want both at least 1, or neither",
			name, a.ReadCapacity, a.WriteCapacity)
	}
	if len(a.LocalSecondaryIndexes) > 0 && a.RangeKey == "" {
		return fmt.Errorf("table %q: LocalSecondaryIndexes need a RangeKey", name)
	}
	for _, l := range a.LocalSecondaryIndexes {
		if l.Name == "" || l.RangeKey == "" || l.RangeKey == a.HashKey || l.RangeKey == a.RangeKey {
			return fmt.Errorf("table %q: local index %q: want a name and a sort key that is not a table key",
				name, l.Name)
		}
	}
	return nil
}

// New creates the table.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Table, error) {
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	c := &Table{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	// Only key attributes are declared: DynamoDB rejects attribute definitions that no key or index uses.
	attributes := dynamodb.TableAttributeArray{
		dynamodb.TableAttributeArgs{Name: pulumi.String(a.HashKey), Type: pulumi.String(a.HashKeyType)},
	}
	tableArgs := &dynamodb.TableArgs{
		BillingMode:               pulumi.String("PAY_PER_REQUEST"),
		HashKey:                   pulumi.String(a.HashKey),
		Attributes:                attributes,
		PointInTimeRecovery:       &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		ServerSideEncryption:      &dynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
		DeletionProtectionEnabled: pulumi.Bool(a.Protect),
		Tags:                      tags.With(a.Tags, name),
	}
	if a.NoPointInTimeRecovery {
		tableArgs.PointInTimeRecovery = &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(false)}
	}
	if a.AWSOwnedKey {
		// The provider reads DynamoDB's default (AWS-owned key) encryption as serverSideEncryption.enabled=false.
		tableArgs.ServerSideEncryption = &dynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(false)}
	} else if a.KmsKeyArn != nil {
		tableArgs.ServerSideEncryption = &dynamodb.TableServerSideEncryptionArgs{
			Enabled: pulumi.Bool(true), KmsKeyArn: a.KmsKeyArn,
		}
	}
	if a.RangeKey != "" {
		tableArgs.RangeKey = pulumi.String(a.RangeKey)
		attributes = append(attributes,
			dynamodb.TableAttributeArgs{Name: pulumi.String(a.RangeKey), Type: pulumi.String(a.RangeKeyType)})
		tableArgs.Attributes = attributes
	}
	if a.TTLAttribute != "" {
		tableArgs.Ttl = &dynamodb.TableTtlArgs{AttributeName: pulumi.String(a.TTLAttribute), Enabled: pulumi.Bool(true)}
	}
	childOpts := []pulumi.ResourceOption{pulumi.Parent(c)}
	if a.Protect {
		// Data outlives a mistaken destroy: pulumi refuses to delete it, and if forced, AWS keeps it.
		childOpts = append(childOpts, pulumi.Protect(true), pulumi.RetainOnDelete(true))
	}
	if a.Adopt != "" {
		// The engine reads the table by its name and takes it into the stack (pulumi/pulumi
		// pkg/resource/deploy/step.go, ImportStep); the name is declared so that it is never auto-named again.
		tableArgs.Name = pulumi.String(a.Adopt)
		childOpts = append(childOpts, pulumi.Import(pulumi.ID(a.Adopt)), pulumi.RetainOnDelete(true))
	}
	// What an adopted table has and the provider would otherwise change (hashicorp/terraform-provider-aws
	// internal/service/dynamodb/table.go): stream_enabled is optional, not computed, so an undeclared stream is
	// turned off; billing_mode is set as declared; local_secondary_index is ForceNew, so an undeclared index
	// replaces the table (and the engine refuses to replace an import).
	if a.StreamViewType != "" {
		tableArgs.StreamEnabled = pulumi.Bool(true)
		tableArgs.StreamViewType = pulumi.String(a.StreamViewType)
	}
	if a.ReadCapacity > 0 {
		tableArgs.BillingMode = pulumi.String("PROVISIONED")
		tableArgs.ReadCapacity = pulumi.Int(a.ReadCapacity)
		tableArgs.WriteCapacity = pulumi.Int(a.WriteCapacity)
	}
	var lsis dynamodb.TableLocalSecondaryIndexArray
	for _, l := range a.LocalSecondaryIndexes {
		lsi := dynamodb.TableLocalSecondaryIndexArgs{
			Name: pulumi.String(l.Name), RangeKey: pulumi.String(l.RangeKey), ProjectionType: pulumi.String(l.Projection),
		}
		if len(l.NonKeyAttributes) > 0 {
			lsi.NonKeyAttributes = pulumi.ToStringArray(l.NonKeyAttributes)
		}
		lsis = append(lsis, lsi)
		attributes = append(attributes,
			dynamodb.TableAttributeArgs{Name: pulumi.String(l.RangeKey), Type: pulumi.String(l.RangeKeyType)})
	}
	if len(lsis) > 0 {
		tableArgs.LocalSecondaryIndexes = lsis
	}
	tableArgs.Attributes = attributes
	tbl, err := dynamodb.NewTable(ctx, name+"-table", tableArgs, childOpts...)
	if err != nil {
		return nil, err
	}
	c.Name = tbl.Name
	c.Arn = tbl.Arn
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"name": tbl.Name, "arn": tbl.Arn}); err != nil {
		return nil, err
	}
	return c, nil
}
