package offline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Account is the AWS account id the mocks report.
const Account = "123456789012"

// Resource is one resource the program registered, with its inputs and options.
type Resource struct {
	Type   string
	Name   string
	URN    string
	Parent string // the parent's URN; the stack's for top-level resources
	Custom bool
	ID     string
	Inputs resource.PropertyMap
	// Outputs are the inputs plus the computed fields the mocks filled.
	Outputs             resource.PropertyMap
	Protect             bool
	RetainOnDelete      bool
	DeleteBeforeReplace bool
	IgnoreChanges       []string
	ReplaceOnChanges    []string
	Aliases             int
	DependsOn           []string
}

// Invoke is one data-source call the program made.
type Invoke struct {
	Token string
	Args  resource.PropertyMap
}

// Mocks answers the program's registrations and invokes like AWS and Docker would, deterministically, and
// records each one. Computed fields (ids, ARNs, URLs, digests, addresses) are derived from the resource's
// name, so the same program always gives the same values.
type Mocks struct {
	Project, Stack, Region string
	// Registry holds the ECR repositories and the images pushed to them. Default: an empty registry, so a
	// run starts from no images; pass one registry to several runs to model successive deploys.
	Registry *Registry

	mu        sync.Mutex
	resources []Resource
	invokes   []Invoke
}

var _ pulumi.MockResourceMonitor = (*Mocks)(nil)

// Resources returns every registered resource, in registration order.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Resource(nil), m.resources...)
}

func (m *Mocks) registry() *Registry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Registry == nil {
		m.Registry = &Registry{}
	}
	return m.Registry
}

// Invokes returns every invoke, in call order.
func (m *Mocks) Invokes() []Invoke {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Invoke(nil), m.invokes...)
}

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// NewResource records a registration and returns its id and state.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	h := hash(args.TypeToken, args.Name)
	id := args.Name + "-" + h[:8]
	out := args.Inputs.Copy()
	set := func(k string, v any) {
		if _, ok := out[resource.PropertyKey(k)]; !ok {
			out[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	str := func(k string) string {
		if v, ok := out[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	arn := func(service, rest string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, m.Region, Account, rest)
	}
	// Resources that Pulumi auto-names get a physical name of <logical name>-<7 hex>.
	autoName := args.Name + "-" + h[:7]
	switch args.TypeToken {
	case "aws:ec2/instance:Instance":
		// A new boot script means a new instance (userDataReplaceOnChange), and so a new id.
		id = "i-0" + hash(h, str("userData"))[:16]
		set("arn", arn("ec2", "instance/"+id))
		set("privateIp", "172.31.0.10")
		set("publicIp", "198.51.100.10")
	case "aws:ec2/eip:Eip":
		id = "eipalloc-0" + h[:16]
		set("allocationId", id)
		set("publicIp", fmt.Sprintf("203.0.113.%d", int(h[0])%250+1))
	case "aws:ec2/eipAssociation:EipAssociation":
		id = "eipassoc-0" + h[:16]
	case "aws:ec2/securityGroup:SecurityGroup":
		id = "sg-0" + h[:16]
		set("arn", arn("ec2", "security-group/"+id))
	case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
		"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
		id = "sgr-0" + h[:16]
	case "aws:ecr/repository:Repository":
		set("name", autoName)
		id = str("name")
		set("arn", arn("ecr", "repository/"+id))
		set("registryId", Account)
		set("repositoryUrl", fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, m.Region, id))
		m.registry().CreateRepository(id, str("imageTagMutability"))
	case "aws:dynamodb/table:Table":
		set("name", autoName)
		id = str("name")
		set("arn", arn("dynamodb", "table/"+id))
	case "aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile":
		set("name", autoName)
		id = str("name")
		kind := "role"
		if strings.HasSuffix(args.TypeToken, "InstanceProfile") {
			kind = "instance-profile"
		}
		set("arn", fmt.Sprintf("arn:aws:iam::%s:%s/%s", Account, kind, id))
	case "aws:kms/key:Key":
		id = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		set("keyId", id)
		set("arn", arn("kms", "key/"+id))
	case "aws:ssm/parameter:Parameter":
		set("name", autoName)
		id = str("name")
		set("arn", arn("ssm", "parameter"+id))
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		id = fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", Account, strings.TrimPrefix(str("url"), "https://"))
		set("arn", id)
	case "aws:s3/bucket:Bucket":
		set("bucket", autoName)
		id = str("bucket")
		set("arn", "arn:aws:s3:::"+id)
	case "aws:sns/topic:Topic":
		set("name", autoName)
		id = arn("sns", str("name"))
		set("arn", id)
	case "aws:cloudwatch/logGroup:LogGroup":
		set("name", autoName)
		id = str("name")
		set("arn", arn("logs", "log-group:"+id))
	case "docker:index/image:Image":
		name := str("imageName")
		id = name
		if v, ok := out["skipPush"]; ok && v.IsBool() && v.BoolValue() {
			// pulumi-docker builds without pushing and reports the local image id as repoDigest.
			set("repoDigest", "sha256:"+hash(name))
			break
		}
		digest, err := m.push(name)
		if err != nil {
			return "", nil, err
		}
		set("repoDigest", digest)
	}
	if !args.Custom {
		id = ""
	}
	m.record(args, id, out)
	return id, out, nil
}

func (m *Mocks) record(args pulumi.MockResourceArgs, id string, out resource.PropertyMap) {
	r := Resource{
		Type:    args.TypeToken,
		Name:    args.Name,
		Custom:  args.Custom,
		ID:      id,
		Inputs:  args.Inputs,
		Outputs: out,
	}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.ReplaceOnChanges = rpc.GetReplaceOnChanges()
		r.Aliases = len(rpc.GetAliases()) + len(rpc.GetAliasURNs())
		r.DependsOn = rpc.GetDependencies()
	}
	r.URN = urnOf(m.Project, m.Stack, r.Parent, r.Type, r.Name)
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
}

// urnOf builds a resource's URN the way the engine (and the mock monitor) does.
func urnOf(project, stack, parent, typ, name string) string {
	qualified := typ
	if parent != "" {
		if p := resource.URN(parent); p.QualifiedType() != resource.RootStackType {
			qualified = string(p.QualifiedType()) + "$" + typ
		}
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s::%s", stack, project, qualified, name)
}

// push pushes imageName (<registry>/<repository>:<tag>) to the registry and returns its
// <registry>/<repository>@sha256:... reference, as pulumi-docker reports it after a push.
func (m *Mocks) push(imageName string) (string, error) {
	repo, tag, err := SplitImageName(imageName)
	if err != nil {
		return "", err
	}
	digest, err := m.registry().Push(repo, tag, Account)
	if err != nil {
		return "", fmt.Errorf("docker push %s: %w", imageName, err)
	}
	return strings.TrimSuffix(imageName, ":"+tag) + "@" + digest, nil
}

// Call answers an invoke.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, Invoke{Token: args.Token, Args: args.Args})
	m.mu.Unlock()
	switch args.Token {
	case "aws:ssm/getParameter:getParameter":
		name := args.Args["name"].StringValue()
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": name, "type": "String", "value": "ami-0" + hash(name)[:16],
		}), nil
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"proxyEndpoint":      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", Account, m.Region),
			"userName":           "AWS",
			"password":           "offline-registry-password",
			"authorizationToken": "offline-registry-token",
		}), nil
	case "aws:ecr/getImages:getImages":
		return m.listImages(args.Args)
	}
	return args.Args, nil
}

// listImages answers aws:ecr/getImages from the registry, as ListImages does.
func (m *Mocks) listImages(args resource.PropertyMap) (resource.PropertyMap, error) {
	name := args["repositoryName"]
	if !name.IsString() {
		return nil, fmt.Errorf("getImages: repositoryName is required")
	}
	registryID := Account
	if v := args["registryId"]; v.IsString() && v.StringValue() != "" {
		registryID = v.StringValue()
	}
	images, err := m.registry().ListImages(name.StringValue(), registryID)
	if err != nil {
		return nil, fmt.Errorf("reading ECR Images (%s): %w", name.StringValue(), err)
	}
	ids := []any{}
	for _, img := range images {
		ids = append(ids, map[string]any{"imageDigest": img.Digest, "imageTag": img.Tag})
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"id": name.StringValue(), "repositoryName": name.StringValue(), "registryId": registryID,
		"region": m.Region, "imageIds": ids,
	}), nil
}
