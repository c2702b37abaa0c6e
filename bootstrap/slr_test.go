package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
)

// accountMocks answers iam.GetRoles as the aws_iam_roles data source does: the roles under the path prefix,
// an empty list when there are none.
type accountMocks struct {
	*offline.Mocks
	serviceLinked map[string]string // path prefix -> role ARN
	asked         []string
	imports       map[string]string // resource name -> the ID the program imports it by
}

func (m *accountMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if rpc := args.RegisterRPC; rpc != nil && rpc.GetImportId() != "" {
		if m.imports == nil {
			m.imports = map[string]string{}
		}
		m.imports[args.Name] = rpc.GetImportId()
	}
	return m.Mocks.NewResource(args)
}

func (m *accountMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token != "aws:iam/getRoles:getRoles" {
		return m.Mocks.Call(args)
	}
	prefix := args.Args["pathPrefix"].StringValue()
	m.asked = append(m.asked, prefix)
	arns := []any{}
	if arn, ok := m.serviceLinked[prefix]; ok {
		arns = append(arns, arn)
	}
	return resource.NewPropertyMapFromMap(map[string]any{"arns": arns, "names": []any{}, "id": region}), nil
}

func runWith(t *testing.T, m *accountMocks) []offline.Resource {
	t.Helper()
	err := pulumi.RunErr(Program, pulumi.WithMocks("appstack-bootstrap", "main", m), func(info *pulumi.RunInfo) {
		info.Config = map[string]string{"aws:region": region, "appstack-bootstrap:githubRepository": repo}
	})
	require.NoError(t, err)
	return m.Resources()
}

func slrOf(t *testing.T, resources []offline.Resource) offline.Resource {
	t.Helper()
	var found []offline.Resource
	for _, r := range resources {
		if r.Type == "aws:iam/serviceLinkedRole:ServiceLinkedRole" {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1)
	return found[0]
}

func TestTheCloudWatchEventsServiceLinkedRoleExists(t *testing.T) {
	const prefix = "/aws-service-role/events.amazonaws.com/"
	t.Run("a fresh account gets it, retained on delete", func(t *testing.T) {
		m := &accountMocks{Mocks: &offline.Mocks{Project: "appstack-bootstrap", Stack: "main", Region: region}}
		r := slrOf(t, runWith(t, m))
		assert.Equal(t, []string{prefix}, m.asked)
		svc, _ := offline.Lookup(r.Inputs, "awsServiceName")
		assert.Equal(t, "events.amazonaws.com", svc.StringValue())
		assert.True(t, r.RetainOnDelete, "other stacks' alarms use it")
		assert.Empty(t, m.imports, "nothing to adopt")
	})
	t.Run("an account that has it adopts it", func(t *testing.T) {
		arn := "arn:aws:iam::123456789012:role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents"
		m := &accountMocks{Mocks: &offline.Mocks{Project: "appstack-bootstrap", Stack: "main", Region: region},
			serviceLinked: map[string]string{prefix: arn}}
		r := slrOf(t, runWith(t, m))
		assert.Equal(t, map[string]string{r.Name: arn}, m.imports,
			"imported by its ARN, the aws_iam_service_linked_role import ID")
		assert.True(t, r.RetainOnDelete)
	})
}
