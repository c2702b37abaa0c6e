package offline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"appstack/components/readiness"
	"appstack/policy"
)

// Account is the AWS account id the mocks report.
const Account = "123456789012"

// CIRoles are the bootstrap's CI roles, all under /appstack/: the roles that exist by default.
var CIRoles = []string{"appstack-ci-pr-preview", "appstack-ci-review", "appstack-ci-staging",
	"appstack-ci-production-preview", "appstack-ci-production", "appstack-ci-drift"}

// DefaultCaller is the caller ARN the mocks report by default for a stack: a GitHub Actions session of the CI
// role that deploys it (appstack-ci-staging, appstack-ci-production, appstack-ci-review for the others), as STS
// names an assumed-role session (no role path).
func DefaultCaller(stack string) string {
	role := "appstack-ci-review"
	if stack == "staging" || stack == "production" {
		role = "appstack-ci-" + stack
	}
	return "arn:aws:sts::" + Account + ":assumed-role/" + role + "/GitHubActions"
}

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
	// Aliases are the URNs the resource was known by before a rename or move: its own pulumi.Aliases and
	// those it inherits from its parent's, as the engine computes them.
	Aliases   []string
	DependsOn []string
	// Import is the id of the existing resource the program adopts (pulumi.Import), or "".
	Import string
	// DeleteTimeout is the custom delete timeout (pulumi.Timeouts), or "".
	DeleteTimeout string
}

// Policy is the resource as the policy rules judge it.
func (r Resource) Policy() policy.Resource {
	return policy.Resource{Type: r.Type, Name: r.Name, URN: r.URN, Parent: r.Parent, Inputs: r.Inputs,
		Outputs: r.Outputs, Protect: r.Protect, RetainOnDelete: r.RetainOnDelete, Import: r.Import}
}

// PolicyResources converts resources for the policy rules (policy.Evaluate, policy.Review), in the same order.
func PolicyResources(resources []Resource) []policy.Resource {
	out := make([]policy.Resource, len(resources))
	for i, r := range resources {
		out[i] = r.Policy()
	}
	return out
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
	// Zones are the public hosted zones the account holds. Nil: every zone asked for (see zoneHeld).
	Zones []string
	// Registry holds the ECR repositories and the images pushed to them. Default: an empty registry, so a
	// run starts from no images; pass one registry to several runs to model successive deploys.
	Registry *Registry
	// BootOnCreate models each created instance's boot: its readiness parameter then holds what the boot script
	// would have written (see Boots). Off in a preview, where nothing boots.
	BootOnCreate bool
	// Boots are the outcomes of the next boots, in order of creation (BootOutcome); once they are used up every
	// boot ends ready.
	Boots []string
	// Denied are the parameter names and paths the deploy's identity may not read: reads of them are refused
	// as SSM refuses them (AccessDeniedException), through the provider.
	Denied []string
	// Caller is the ARN STS GetCallerIdentity returns for the deploy's credentials. Default
	// DefaultCaller(Stack): the deploying CI role's session.
	Caller string
	// Roles maps the IAM roles that exist to their paths, for aws:iam/getSessionContext, which looks up the role
	// behind an assumed-role ARN. Default: CIRoles under /appstack/.
	Roles map[string]string
	// Groups are the Auto Scaling groups that exist, by name, for aws:autoscaling/getGroup. Default: none.
	Groups map[string]Group
	// Missing are the IAM policies (by ARN) and roles (by name) the account lacks, as in an account the
	// bootstrap has not run in: aws:iam/getPolicy and aws:iam/getRole refuse them as the provider does.
	// Default: none, every policy and role asked for exists.
	Missing []string

	mu         sync.Mutex
	resources  []Resource
	invokes    []Invoke
	parameters map[string]string
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

// state is a resource's state while the mocks fill in what AWS would compute.
type state resource.PropertyMap

// set gives key k the value v unless the program set it.
func (s state) set(k string, v any) {
	if _, ok := s[resource.PropertyKey(k)]; !ok {
		s[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
	}
}

// str is the string at key k, or "".
func (s state) str(k string) string {
	if v, ok := s[resource.PropertyKey(k)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// arn is an ARN of the mocks' account and region.
func (m *Mocks) arn(service, rest string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, m.Region, Account, rest)
}

// NewResource records a registration and returns its id and state.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	h := hash(args.TypeToken, args.Name)
	id := args.Name + "-" + h[:8]
	out := args.Inputs.Copy()
	set, str, arn := state(out).set, state(out).str, m.arn
	// Resources that Pulumi auto-names get a physical name of <logical name>-<7 hex>.
	autoName := args.Name + "-" + h[:7]
	switch args.TypeToken {
	case "aws:ec2/instance:Instance":
		// A new boot script means a new instance (userDataReplaceOnChange), and so a new id.
		id = "i-0" + hash(h, str("userData"), str("userDataBase64"))[:16]
		if m.BootOnCreate && args.Custom {
			if err := m.Boot(id, out); err != nil {
				return "", nil, err
			}
		}
		set("arn", arn("ec2", "instance/"+id))
		set("privateIp", "172.31.0.10")
		set("publicIp", "198.51.100.10")
	case "aws:ec2/eip:Eip":
		id = "eipalloc-0" + h[:16]
		if args.ID != "" {
			// An adopted address keeps its allocation id.
			id = args.ID
		}
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
		if prefix := str("bucketPrefix"); prefix != "" {
			// The provider appends a 26-character unique suffix to bucket_prefix.
			set("bucket", prefix+h[:26])
		}
		set("bucket", autoName)
		id = str("bucket")
		set("arn", "arn:aws:s3:::"+id)
	case "aws:sns/topic:Topic":
		if prefix := str("namePrefix"); prefix != "" {
			// The provider appends a 26-character unique suffix to name_prefix.
			set("name", prefix+h[:26])
		}
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
	default:
		if fid := m.frontDoorOutputs(args.TypeToken, args.Name, h, out); fid != "" {
			id = fid
		}
		if fid := m.fleetOutputs(args.TypeToken, args.Name, h, out); fid != "" {
			id = fid
		}
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
		r.DependsOn = rpc.GetDependencies()
		r.Import = rpc.GetImportId()
		if t := rpc.GetCustomTimeouts(); t != nil {
			r.DeleteTimeout = t.GetDelete()
		}
	}
	r.URN = urnOf(m.Project, m.Stack, r.Parent, r.Type, r.Name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if rpc := args.RegisterRPC; rpc != nil {
		r.Aliases = m.aliasURNs(r, rpc.GetAliases(), rpc.GetAliasURNs())
	}
	m.resources = append(m.resources, r)
}

// aliasURNs computes the URNs a resource may have had before, as the engine does (pulumi/pulumi
// pkg/resource/deploy/step_generator.go v3.200.0, generateAliases and inheritedChildAlias): each alias the
// resource states, and for each alias of its parent the same resource under that parent, its name's parent
// prefix replaced by the parent's old name (the "<parent>-<suffix>" convention). Callers hold m.mu.
func (m *Mocks) aliasURNs(r Resource, specs []*pulumirpc.Alias, urns []string) []string {
	var out []string
	add := func(urn string) {
		if urn != "" && urn != r.URN && !slices.Contains(out, urn) {
			out = append(out, urn)
		}
	}
	for _, u := range urns {
		add(u)
	}
	own := []string{r.URN}
	for _, a := range specs {
		if u := a.GetUrn(); u != "" {
			add(u)
			own = append(own, u)
			continue
		}
		spec := a.GetSpec()
		name, typ, parent := cmp.Or(spec.GetName(), r.Name), cmp.Or(spec.GetType(), r.Type), r.Parent
		switch {
		case spec.GetNoParent():
			parent = ""
		case spec.GetParentUrn() != "":
			parent = spec.GetParentUrn()
		}
		u := urnOf(cmp.Or(spec.GetProject(), m.Project), cmp.Or(spec.GetStack(), m.Stack), parent, typ, name)
		add(u)
		own = append(own, u)
	}
	if r.Parent == "" {
		return out
	}
	parentName := resource.URN(r.Parent).Name()
	for _, p := range m.resources {
		if p.URN != r.Parent {
			continue
		}
		for _, parentAlias := range p.Aliases {
			for _, u := range own {
				name := resource.URN(u).Name()
				if strings.HasPrefix(name, parentName) {
					name = resource.URN(parentAlias).Name() + strings.TrimPrefix(name, parentName)
				}
				add(urnOf(m.Project, m.Stack, parentAlias, string(resource.URN(u).Type()), name))
			}
		}
	}
	return out
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
	if out, ok, err := m.frontDoorCall(args); ok {
		return out, err
	}
	if out, ok, err := m.fleetCall(args); ok {
		return out, err
	}
	switch args.Token {
	case "aws:ssm/getParameter:getParameter":
		name := args.Args["name"].StringValue()
		if strings.HasPrefix(name, "/aws/service/") {
			return resource.NewPropertyMapFromMap(map[string]any{
				"name": name, "type": "String", "value": "ami-0" + hash(name)[:16],
			}), nil
		}
		if err := m.denied("GetParameter", name); err != nil {
			return nil, err
		}
		return m.getParameter(name)
	case "aws:ssm/getParametersByPath:getParametersByPath":
		if err := m.denied("GetParametersByPath", args.Args["path"].StringValue()); err != nil {
			return nil, err
		}
		return m.getParametersByPath(args.Args["path"].StringValue()), nil
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"proxyEndpoint":      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", Account, m.Region),
			"userName":           "AWS",
			"password":           "offline-registry-password",
			"authorizationToken": "offline-registry-token",
		}), nil
	case "aws:ecr/getImages:getImages":
		return m.listImages(args.Args)
	case "aws:index/getCallerIdentity:getCallerIdentity":
		caller := m.caller()
		a, err := awsarn.Parse(caller)
		if err != nil {
			return nil, fmt.Errorf("getCallerIdentity: caller %q: %w", caller, err)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": a.AccountID, "arn": caller, "id": a.AccountID, "userId": "AROAOFFLINE:session",
		}), nil
	case "aws:iam/getSessionContext:getSessionContext":
		return m.sessionContext(args.Args)
	case "aws:iam/getPolicy:getPolicy", "aws:iam/getRole:getRole":
		return m.iamEntity(args)
	}
	return args.Args, nil
}

// iamEntity answers aws:iam/getPolicy (by arn) and aws:iam/getRole (by name). One in Missing is refused as
// terraform-provider-aws refuses it: IAM answers NoSuchEntity, which the data sources report as "couldn't find
// resource" (internal/service/iam/policy_data_source.go, role_data_source.go).
func (m *Mocks) iamEntity(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	key, kind := "arn", "Policy"
	if args.Token == "aws:iam/getRole:getRole" {
		key, kind = "name", "Role"
	}
	v := args.Args[resource.PropertyKey(key)]
	if !v.IsString() || v.StringValue() == "" {
		return nil, fmt.Errorf("get%s: the mocks look IAM %ss up by %s only", kind, strings.ToLower(kind), key)
	}
	id := v.StringValue()
	if slices.Contains(m.Missing, id) {
		return nil, fmt.Errorf("reading IAM %s (%s): couldn't find resource", kind, id)
	}
	out := map[string]any{"id": id, key: id}
	if kind == "Policy" {
		out["name"] = id[strings.LastIndex(id, "/")+1:]
	} else {
		out["arn"] = fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, id)
	}
	return resource.NewPropertyMapFromMap(out), nil
}

func (m *Mocks) caller() string {
	if m.Caller == "" {
		return DefaultCaller(m.Stack)
	}
	return m.Caller
}

// sessionContext answers aws:iam/getSessionContext as terraform-provider-aws does
// (internal/service/iam/session_context_data_source.go): an assumed-role ARN
// (arn:<partition>:sts::<account>:assumed-role/<role>/<session>) becomes the role's ARN with its path, found
// with iam:GetRole, and a role that does not exist is an error; any other ARN (an IAM user, the root) passes
// through as issuerArn.
func (m *Mocks) sessionContext(args resource.PropertyMap) (resource.PropertyMap, error) {
	v := args["arn"]
	if !v.IsString() {
		return nil, fmt.Errorf("getSessionContext: arn is required")
	}
	in := v.StringValue()
	a, err := awsarn.Parse(in)
	if err != nil {
		return nil, fmt.Errorf("getSessionContext: %q is an invalid ARN: %w", in, err)
	}
	out := map[string]any{"arn": in, "id": in, "issuerArn": in, "issuerId": "", "issuerName": "", "sessionName": ""}
	parts := strings.Split(a.Resource, "/")
	if a.Service != "sts" || len(parts) < 3 || parts[0] != "assumed-role" {
		return resource.NewPropertyMapFromMap(out), nil
	}
	role, session := parts[1], parts[len(parts)-1]
	roles := m.Roles
	if roles == nil {
		roles = map[string]string{}
		for _, r := range CIRoles {
			roles[r] = "/appstack/"
		}
	}
	rolePath, ok := roles[role]
	if !ok {
		return nil, fmt.Errorf("unable to get role (%s): couldn't find resource (NoSuchEntity: The role with name %s "+
			"cannot be found.)", role, role)
	}
	out["issuerArn"] = fmt.Sprintf("arn:%s:iam::%s:role%s%s", a.Partition, a.AccountID, rolePath, role)
	out["issuerId"] = "AROA" + strings.ToUpper(hash(role)[:16])
	out["issuerName"] = role
	out["sessionName"] = session
	return resource.NewPropertyMapFromMap(out), nil
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

// BootOutcome is how a modelled boot ends: "ready", "failed <step> <reason…>", "booting" (it never finishes) or
// "silent" (it never signals). SignalFor turns it into the value the boot script would have written.
type BootOutcome = string

// SignalFor is the readiness parameter's value after a boot of fingerprint that ended as outcome; false when the
// boot writes nothing (readiness.ModelledSignal).
func SignalFor(outcome BootOutcome, fingerprint string) (string, bool, error) {
	return readiness.ModelledSignal(outcome, fingerprint)
}

// Boot models the boot of a created instance from its user data, as the boot script would run it: it takes the
// next outcome, writes the signal to <prefix>/<instance id>, and once ready deletes the other fingerprints'
// signals under the prefix. An instance whose user data is no appstack boot script writes nothing.
func (m *Mocks) Boot(instanceID string, inputs resource.PropertyMap) error {
	str := func(k resource.PropertyKey) string {
		if v, ok := inputs[k]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	p, err := readiness.ParseUserData(str("userData"), str("userDataBase64"))
	if err != nil {
		return fmt.Errorf("instance %s: %w", instanceID, err)
	}
	if p.ReadyPrefix == "" {
		return nil // not an appstack host: nothing in it writes a signal
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	outcome := readiness.Ready
	if len(m.Boots) > 0 {
		outcome, m.Boots = m.Boots[0], m.Boots[1:]
	}
	value, ok, err := SignalFor(outcome, p.Fingerprint)
	if err != nil || !ok {
		return err
	}
	if m.parameters == nil {
		m.parameters = map[string]string{}
	}
	readiness.RecordSignal(m.parameters, p.ReadyPrefix, instanceID, p.Fingerprint, value)
	return nil
}

// Parameters returns the SSM parameters the modelled boots wrote (and SetParameter set), by name.
func (m *Mocks) Parameters() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.parameters)
}

// SetParameter sets an SSM parameter, as an earlier deploy's host would have.
func (m *Mocks) SetParameter(name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.parameters == nil {
		m.parameters = map[string]string{}
	}
	m.parameters[name] = value
}

// getParameter answers aws:ssm/getParameter as pulumi-aws does: a missing parameter is an error, in the text
// terraform-provider-aws gives SSM's ParameterNotFound (internal/service/ssm/parameter.go, findParameterByName).
func (m *Mocks) getParameter(name string) (resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.parameters[name]
	if !ok {
		return nil, fmt.Errorf("reading SSM Parameter (%s): couldn't find resource", name)
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"name": name, "id": name, "type": "String", "value": v, "insecureValue": v, "version": 1,
		"arn": fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", m.Region, Account, name),
	}), nil
}

// getParametersByPath answers aws:ssm/getParametersByPath (not recursive): the parameters directly under path,
// in name order; none is no error.
func (m *Mocks) getParametersByPath(dir string) resource.PropertyMap {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = strings.TrimSuffix(dir, "/")
	names, values, types, arns := []any{}, []any{}, []any{}, []any{}
	for _, name := range slices.Sorted(maps.Keys(m.parameters)) {
		if path.Dir(name) == dir {
			names = append(names, name)
			values = append(values, m.parameters[name])
			types = append(types, "String")
			arns = append(arns, fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", m.Region, Account, name))
		}
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"id": dir, "path": dir, "names": names, "values": values, "types": types, "arns": arns,
	})
}

// denied refuses a read of a name in Denied the way the AWS SDK for Go v2 reports SSM's refusal, which
// pulumi-aws passes through.
func (m *Mocks) denied(op, name string) error {
	if !slices.Contains(m.Denied, name) {
		return nil
	}
	return fmt.Errorf("operation error SSM: %s, https response error StatusCode: 400, RequestID: "+
		"00000000-0000-0000-0000-000000000000, api error AccessDeniedException: User: "+
		"arn:aws:sts::%s:assumed-role/deploy/appstack is not authorized to perform: ssm:%s on resource: "+
		"arn:aws:ssm:%s:%s:parameter%s because no identity-based policy allows the ssm:%s action", op, Account,
		op, m.Region, Account, name, op)
}
