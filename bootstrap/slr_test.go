package main

import (
	"errors"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
	"appstack/internal/offline"
)

// accountMocks answers iam.GetRoles as the aws_iam_roles data source does: the roles under the path prefix,
// an empty list when there are none.
type accountMocks struct {
	*offline.Mocks
	serviceLinked map[string]string // path prefix -> role ARN
	asked         []string
	imports       map[string]string // resource name -> the ID the program imports it by
	fail          error             // what the lookup answers, when set
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
	if m.fail != nil {
		return nil, m.fail
	}
	arns := []any{}
	if arn, ok := m.serviceLinked[prefix]; ok {
		arns = append(arns, arn)
	}
	return resource.NewPropertyMapFromMap(map[string]any{"arns": arns, "names": []any{}, "id": region}), nil
}

func runWith(t *testing.T, m *accountMocks) []offline.Resource {
	t.Helper()
	err := pulumi.RunErr(Program, pulumi.WithMocks("appstack-bootstrap", "main", m), func(info *pulumi.RunInfo) {
		info.Config = map[string]string{"aws:region": region, "appstack-bootstrap:githubRepository": repo,
			"appstack-bootstrap:githubRepositoryId": repoID}
	})
	require.NoError(t, err)
	return m.Resources()
}

func slrOf(t *testing.T, resources []offline.Resource, service string) offline.Resource {
	t.Helper()
	var found []offline.Resource
	for _, r := range resources {
		if svc, ok := offline.Lookup(r.Inputs, "awsServiceName"); ok && svc.StringValue() == service &&
			r.Type == "aws:iam/serviceLinkedRole:ServiceLinkedRole" {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1, service)
	return found[0]
}

// The service-linked roles a fresh account lacks: the hosts' alarms need CloudWatch Events', a fleet Auto
// Scaling's, whose ARN the stack key's policy names for the encrypted alarm topic.
func TestTheServiceLinkedRolesExist(t *testing.T) {
	roles := map[string]string{ // service -> the role AWS names for it
		"events.amazonaws.com":      "AWSServiceRoleForCloudWatchEvents",
		"autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
	}
	require.Len(t, ServiceLinkedRoles, len(roles))
	for _, slr := range ServiceLinkedRoles {
		prefix := "/aws-service-role/" + slr.Service + "/"
		arn := "arn:aws:iam::123456789012:role" + prefix + roles[slr.Service]
		t.Run(slr.Service+": a fresh account gets it, retained on delete", func(t *testing.T) {
			m := &accountMocks{Mocks: &offline.Mocks{Project: "appstack-bootstrap", Stack: "main", Region: region}}
			r := slrOf(t, runWith(t, m), slr.Service)
			assert.Contains(t, m.asked, prefix)
			assert.True(t, r.RetainOnDelete, "other stacks use it")
			assert.Equal(t, []string{"description"}, r.IgnoreChanges, "AWS describes it")
			assert.Empty(t, m.imports, "nothing to adopt")
		})
		t.Run(slr.Service+": an account that has it adopts it", func(t *testing.T) {
			m := &accountMocks{Mocks: &offline.Mocks{Project: "appstack-bootstrap", Stack: "main", Region: region},
				serviceLinked: map[string]string{prefix: arn}}
			r := slrOf(t, runWith(t, m), slr.Service)
			assert.Equal(t, map[string]string{r.Name: arn}, m.imports,
				"imported by its ARN, the aws_iam_service_linked_role import ID; the other role is created")
			assert.True(t, r.RetainOnDelete)
		})
	}
	// The ARN the stack key's policy names is the role the bootstrap makes sure of.
	got, err := identity.AutoScalingServiceLinkedRoleArn("arn:aws:iam::123456789012:root")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/"+
		roles[identity.AutoScalingService], got)
}

func TestTheServiceLinkedRolesAreExported(t *testing.T) {
	w := bootstrapWorld(t)
	assert.Contains(t, w.res.Exports, "eventsServiceLinkedRoleArn")
	assert.Contains(t, w.res.Exports, "autoScalingServiceLinkedRoleArn")
}

func TestAFailedServiceLinkedRoleLookupNamesTheService(t *testing.T) {
	m := &accountMocks{Mocks: &offline.Mocks{Project: "appstack-bootstrap", Stack: "main", Region: region},
		fail: errors.New("AccessDenied: iam:ListRoles")}
	err := pulumi.RunErr(Program, pulumi.WithMocks("appstack-bootstrap", "main", m), func(info *pulumi.RunInfo) {
		info.Config = map[string]string{"aws:region": region, "appstack-bootstrap:githubRepository": repo,
			"appstack-bootstrap:githubRepositoryId": repoID}
	})
	assert.ErrorContains(t, err, "service-linked role of events.amazonaws.com: looking it up: ")
	assert.ErrorContains(t, err, "AccessDenied: iam:ListRoles")
}

// The role a fleet stack's key policy names for its alarm topic (infra/appstack builds it from the same
// identity constants) is one the bootstrap makes sure of: a key policy naming a role that does not exist is refused.
func TestTheStackKeyNamesTheAutoScalingRoleTheBootstrapMakes(t *testing.T) {
	assert.Contains(t, ServiceLinkedRoles, ServiceLinkedRole{Name: "autoscaling", Service: identity.AutoScalingService,
		Export: "autoScalingServiceLinkedRoleArn"})
}
