package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// ExistingFile, in the directory named by APPSTACK_STANDIN_STATE, lists the resources that exist before a stack
// adopts them: type token -> id (a table's or repository's name, an address's allocation id) -> Existing. What
// is not listed does not exist.
const ExistingFile = "existing.json"

// Existing is one resource as the provider reads it back.
type Existing struct {
	// Inputs are the settings the resource has, as the provider reports them for the resource's inputs.
	Inputs map[string]any `json:"inputs"`
	// Outputs are what AWS computed that the stand-in would otherwise make up, such as an address's publicIp.
	Outputs map[string]any `json:"outputs,omitempty"`
}

// existing looks an existing resource up by type and id.
func existing(typ, id string) (*Existing, bool, error) {
	dir := os.Getenv("APPSTACK_STANDIN_STATE")
	if dir == "" {
		return nil, false, nil
	}
	raw, err := os.ReadFile(filepath.Join(dir, ExistingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var all map[string]map[string]*Existing
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, false, fmt.Errorf("%s: %w", ExistingFile, err)
	}
	e, ok := all[typ][id]
	return e, ok, nil
}

// isImport tells an import's Read, which names only the id (pulumi/pulumi pkg/resource/deploy/step.go,
// ImportStep.Apply), from a refresh's, which sends the state the stack holds.
func isImport(req *pulumirpc.ReadRequest) bool {
	return len(req.GetProperties().GetFields()) == 0 && len(req.GetInputs().GetFields()) == 0
}

// readExisting answers an import's Read as the AWS provider does. A resource that exists comes back with its
// id, its state (its inputs and outputs plus what the stand-in computes: ARN, URL) and its inputs, from which the engine diffs the program's inputs: an import followed by an update in place when
// they differ, and a refusal when the difference would replace the resource. A resource that does not exist
// comes back empty, as pulumi-terraform-bridge answers a Read whose resource is gone (pkg/tfbridge/provider.go,
// Provider.Read: "a gRPC response with no resource ID set"), and the engine fails the import with "resource '<id>' does not exist".
func (s *standin) readExisting(req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	u := resource.URN(req.GetUrn())
	found, ok, err := existing(string(u.Type()), req.GetId())
	if err != nil || !ok {
		return &pulumirpc.ReadResponse{}, err
	}
	inputs := resource.NewPropertyMapFromMap(found.Inputs)
	known := inputs.Copy()
	for k, v := range resource.NewPropertyMapFromMap(found.Outputs) {
		known[k] = v
	}
	_, state, err := s.mocks.NewResource(pulumi.MockResourceArgs{TypeToken: string(u.Type()), Name: u.Name(),
		Inputs: known, Custom: true, ID: req.GetId()})
	if err != nil {
		return nil, err
	}
	if u.Type() == repository {
		// The repository exists in the registry the images are pushed to and listed from.
		if err := createdRepository(req.GetId(), inputs); err != nil {
			return nil, err
		}
	}
	s.log(Call{Op: "read", Type: string(u.Type()), Name: u.Name(), ID: req.GetId()})
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	ins, err := marshal(inputs)
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: ins}, err
}
