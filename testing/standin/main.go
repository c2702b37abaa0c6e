// Command standin is test scaffolding at the plugin boundary: a stand-in resource provider that the real
// Pulumi engine loads as pulumi-resource-aws or pulumi-resource-docker (named by the file it is installed as)
// in the engine-level tests. It creates nothing anywhere: it answers Check, Diff, Create, Read, Update, Delete
// and Invoke with the offline mocks' deterministic values and appends every call to the file named by
// APPSTACK_STANDIN_LOG. It models each created host's boot and answers the readiness reads from a parameter
// store in a file (ssm.go). Where a real provider's answer decides a deploy, it answers as that provider
// would: computed outputs are unknown in a preview, and ECR's rules hold for images and repositories
// (ecr.go). A fleet's launch templates, Auto Scaling groups (whose instances boot the same way), scaling
// policies and notifications live in a state file the Auto Scaling API stand-in shares (fleet.go, asgapi).
// It is not AWS and not Docker.
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"appstack/internal/offline"
	"appstack/internal/preview"
	"appstack/testing/standin/asgapi"
	"appstack/testing/standin/ssmstore"
)

// Call is one line of the call log.
type Call struct {
	Op   string `json:"op"`
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
	// Instance is the instance an Elastic IP association names.
	Instance string `json:"instance,omitempty"`
}

type standin struct {
	pulumirpc.UnimplementedResourceProviderServer
	pkg, version string
	mocks        *offline.Mocks
	mu           sync.Mutex
	params       *ssmstore.Store // the parameter store (ssm.go)
	fleet        *asgapi.Store   // launch templates and Auto Scaling groups (fleet.go)
}

func main() {
	pkg := strings.TrimPrefix(filepath.Base(os.Args[0]), "pulumi-resource-")
	version := map[string]string{"aws": "7.41.0", "docker": "4.10.0"}[pkg]
	err := provider.Main(pkg, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		mocks := &offline.Mocks{Region: "ap-southeast-1", Zones: zonesFromEnv(), Missing: missingFromEnv()}
		params := ssmstore.FromEnv()
		return &standin{pkg: pkg, version: version, mocks: mocks, params: params,
			fleet: &asgapi.Store{File: os.Getenv("APPSTACK_STANDIN_FLEET"), Boot: params}}, nil
	})
	if err != nil {
		os.Exit(1)
	}
}

func (s *standin) log(c Call) {
	path := os.Getenv("APPSTACK_STANDIN_LOG")
	if path == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	line, _ := json.Marshal(c)
	_, _ = f.Write(append(line, '\n'))
	_ = f.Close() // the call log is best effort: a lost line fails the test that reads it
}

var opts = plugin.MarshalOptions{KeepSecrets: true, KeepUnknowns: true, KeepResources: true, KeepOutputValues: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, opts)
}
func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, opts)
}

func (s *standin) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

func (s *standin) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *standin) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *standin) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	if args, err := unmarshal(req.GetArgs()); err == nil {
		if r, ok := args["region"]; ok && r.IsString() {
			s.mocks.Region = r.StringValue()
		}
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true,
		AcceptOutputs: true}, nil
}

func (s *standin) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if resource.URN(req.GetUrn()).Type() != dockerImage {
		return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
	}
	inputs, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if err := checkImage(inputs); err != nil {
		return nil, err
	}
	news, err := marshal(inputs)
	return &pulumirpc.CheckResponse{Inputs: news}, err
}

// Diff reports the changed inputs, and a replacement where a real provider would need one (the table the
// offline diff uses; the host's user-data through userDataReplaceOnChange).
func (s *standin) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	typ := string(resource.URN(req.GetUrn()).Type())
	if typ == dockerImage {
		return diffImage(olds, news), nil
	}
	var diffs, replaces []string
	for _, k := range keys(olds, news) {
		if olds[k].DeepEquals(news[k]) || slices.Contains(req.GetIgnoreChanges(), string(k)) {
			continue
		}
		diffs = append(diffs, string(k))
		if slices.Contains(preview.ReplaceOn[typ], string(k)) {
			replaces = append(replaces, string(k))
		}
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, Diffs: diffs, Replaces: replaces}
	if len(diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

func keys(a, b resource.PropertyMap) []resource.PropertyKey {
	var out []resource.PropertyKey
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (s *standin) state(urn string, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	u := resource.URN(urn)
	return s.mocks.NewResource(pulumi.MockResourceArgs{TypeToken: string(u.Type()), Name: u.Name(),
		Inputs: inputs, Custom: true})
}

func (s *standin) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	u := resource.URN(req.GetUrn())
	if isFleet(string(u.Type())) {
		id, out, err := s.fleetCreate(u, inputs, req.GetPreview())
		if out == nil {
			return nil, err
		}
		props, merr := marshal(out)
		if merr != nil {
			return nil, merr
		}
		if !req.GetPreview() && id != "" {
			s.log(Call{Op: "create", Type: string(u.Type()), Name: u.Name(), ID: id})
		}
		if err != nil {
			return nil, err // a partial create: the error carries the state
		}
		return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
	}
	if u.Type() == dockerImage {
		out, err := s.buildImage(inputs, req.GetPreview())
		if err != nil {
			return nil, err
		}
		props, err := marshal(out)
		if err != nil || req.GetPreview() {
			return &pulumirpc.CreateResponse{Properties: props}, err
		}
		s.log(Call{Op: "create", Type: string(u.Type()), Name: u.Name(), ID: strProp(inputs, "imageName")})
		return &pulumirpc.CreateResponse{Id: strProp(inputs, "imageName"), Properties: props}, nil
	}
	id, out, err := s.state(req.GetUrn(), inputs)
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		// A real provider knows only the inputs before it creates: ids, ARNs, URLs and addresses it computes
		// are unknown in a preview.
		props, err := marshal(unknownComputed(inputs, out))
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	if u.Type() == targetGroupType {
		// A replacement target group has a new ARN, as AWS gives it: the physical name is in it.
		id = targetGroupArn(s.mocks.Region, strProp(inputs, "name"), id)
		out["arn"] = resource.NewStringProperty(id)
		out["arnSuffix"] = resource.NewStringProperty(id[strings.Index(id, "targetgroup/"):])
	}
	if u.Type() == listenerRule || u.Type() == listener {
		// A rule's or listener's ARN is the account's alone: two stacks' rules of the same name (staging's and a
		// review stack's copied from it) are two rules, on two listeners whose priorities are their own.
		id += "-" + hashOf(string(u))[:8]
		if u.Type() == listener {
			out["arn"] = resource.NewStringProperty(id)
		}
	}
	if u.Type() == "aws:ec2/instance:Instance" {
		if err := s.boot(id, inputs); err != nil {
			return nil, err
		}
	}
	if u.Type() == repository {
		if err := createdRepository(id, inputs); err != nil {
			return nil, err
		}
	}
	if err := s.frontDoor(string(u.Type()), id, out, false); err != nil {
		return nil, err
	}
	s.log(Call{Op: "create", Type: string(u.Type()), Name: u.Name(), ID: id, Instance: instanceOf(inputs)})
	props, err := marshal(out)
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, err
}

// unknownComputed is out with every property that is not an input made unknown.
func unknownComputed(inputs, out resource.PropertyMap) resource.PropertyMap {
	res := inputs.Copy()
	for k := range out {
		if _, ok := inputs[k]; !ok {
			res[k] = resource.MakeComputed(resource.NewStringProperty(""))
		}
	}
	return res
}

func (s *standin) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if isImport(req) {
		return s.readExisting(req)
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (s *standin) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	inputs, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	u := resource.URN(req.GetUrn())
	if isFleet(string(u.Type())) {
		olds, err := unmarshal(req.GetOlds())
		if err != nil {
			return nil, err
		}
		oldInputs, err := unmarshal(req.GetOldInputs())
		if err != nil {
			return nil, err
		}
		out, err := s.fleetUpdate(u, req.GetId(), olds, oldInputs, inputs, req.GetPreview())
		if err != nil {
			return nil, err
		}
		if !req.GetPreview() {
			s.log(Call{Op: "update", Type: string(u.Type()), Name: u.Name(), ID: req.GetId()})
		}
		props, err := marshal(out)
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	if u.Type() == dockerImage {
		out, err := s.buildImage(inputs, req.GetPreview())
		if err != nil {
			return nil, err
		}
		if !req.GetPreview() {
			s.log(Call{Op: "update", Type: string(u.Type()), Name: u.Name(), ID: req.GetId()})
		}
		props, err := marshal(out)
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	_, out, err := s.state(req.GetUrn(), inputs)
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		// An update in place keeps what the provider computed before (the resource's id, ARN, ...).
		olds, err := unmarshal(req.GetOlds())
		if err != nil {
			return nil, err
		}
		out = inputs.Copy()
		for k, v := range olds {
			if _, ok := inputs[k]; !ok {
				out[k] = v
			}
		}
		props, err := marshal(out)
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	if u.Type() == repository {
		if err := createdRepository(req.GetId(), inputs); err != nil {
			return nil, err
		}
	}
	// An update in place keeps what AWS computed before: an adopted address keeps its IP, a table its ARN.
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	for k, v := range olds {
		if _, ok := inputs[k]; !ok {
			out[k] = v
		}
	}
	if err := s.frontDoor(string(u.Type()), req.GetId(), out, false); err != nil {
		return nil, err
	}
	s.log(Call{Op: "update", Type: string(u.Type()), Name: u.Name(), ID: req.GetId(),
		Instance: instanceOf(inputs)})
	props, err := marshal(out)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

func (s *standin) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	u := resource.URN(req.GetUrn())
	if isFleet(string(u.Type())) {
		if err := s.fleetDelete(u, req.GetId()); err != nil {
			return nil, err
		}
	}
	if u.Type() == repository {
		state, err := unmarshal(req.GetProperties())
		if err != nil {
			return nil, err
		}
		if err := deleteRepository(req.GetId(), state); err != nil {
			return nil, err
		}
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if err := s.frontDoor(string(u.Type()), req.GetId(), state, true); err != nil {
		return nil, err
	}
	s.log(Call{Op: "delete", Type: string(u.Type()), Name: u.Name(), ID: req.GetId(), Instance: instanceOf(state)})
	return &emptypb.Empty{}, nil
}

func (s *standin) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	var out resource.PropertyMap
	switch {
	case req.GetTok() == getImages:
		out, err = listImages(context.Background(), args)
	case req.GetTok() == getGroup:
		out, err = s.invokeGetGroup(args)
	case readsSSM(req.GetTok(), args):
		out, err = s.invokeSSM(req.GetTok(), args)
	default:
		out, err = s.mocks.Call(pulumi.MockCallArgs{Token: req.GetTok(), Args: args})
	}
	if err != nil {
		return nil, err
	}
	props, err := marshal(out)
	return &pulumirpc.InvokeResponse{Return: props}, err
}

func (s *standin) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// instanceOf is the instanceId input of an Elastic IP association, for the call log.
func instanceOf(inputs resource.PropertyMap) string {
	if v, ok := inputs["instanceId"]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}
