package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/internal/offline"
)

// The stand-in keeps a small parameter store in a file, so that it outlives the plugin process as SSM outlives
// a `pulumi up`: each host the stand-in creates gets the readiness signal its boot script would have written,
// and the program's reads of aws:ssm/getParameter and aws:ssm/getParametersByPath answer from that store.
//
//	APPSTACK_STANDIN_SSM    the store (JSON); without it the store lives in the plugin process, for one run
//	APPSTACK_STANDIN_BOOTS  the boots' outcomes, one a line, used in order of creation (offline.BootOutcome);
//	                        once used up every boot ends ready
type ssmState struct {
	Parameters map[string]string `json:"parameters"`
	// BootsUsed is how many lines of the outcomes file the created hosts have used.
	BootsUsed int `json:"bootsUsed"`
}

func (s *standin) loadSSM() (*ssmState, error) {
	st := &ssmState{Parameters: map[string]string{}}
	path := os.Getenv("APPSTACK_STANDIN_SSM")
	if path == "" {
		if s.memory != nil {
			raw, err := json.Marshal(s.memory)
			if err != nil {
				return nil, err
			}
			return st, json.Unmarshal(raw, st)
		}
		return st, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("stand-in parameter store %s: %w", path, err)
	}
	return st, nil
}

func (s *standin) saveSSM(st *ssmState) error {
	path := os.Getenv("APPSTACK_STANDIN_SSM")
	if path == "" {
		s.memory = st
		return nil
	}
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}

func outcomes() ([]string, error) {
	path := os.Getenv("APPSTACK_STANDIN_BOOTS")
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(raw)) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// store is the offline mocks' parameter model over the loaded state.
func (s *standin) store(st *ssmState) *offline.Mocks {
	m := &offline.Mocks{Region: s.mocks.Region}
	for name, value := range st.Parameters {
		m.SetParameter(name, value)
	}
	return m
}

// boot models the boot of a created instance: the next outcome decides the signal it leaves.
func (s *standin) boot(id string, inputs resource.PropertyMap) error {
	s.ssmMu.Lock()
	defer s.ssmMu.Unlock()
	st, err := s.loadSSM()
	if err != nil {
		return err
	}
	all, err := outcomes()
	if err != nil {
		return err
	}
	m := s.store(st)
	if st.BootsUsed < len(all) {
		m.Boots = []string{all[st.BootsUsed]}
	}
	st.BootsUsed++
	if err := m.Boot(id, inputs); err != nil {
		return err
	}
	st.Parameters = m.Parameters()
	if st.Parameters == nil {
		st.Parameters = map[string]string{}
	}
	return s.saveSSM(st)
}

// readsSSM says whether an invoke reads the parameter store.
func readsSSM(tok string, args resource.PropertyMap) bool {
	switch tok {
	case "aws:ssm/getParametersByPath:getParametersByPath":
		return true
	case "aws:ssm/getParameter:getParameter":
		name, ok := args["name"]
		return ok && name.IsString() && !strings.HasPrefix(name.StringValue(), "/aws/service/")
	}
	return false
}

// invokeSSM answers a read of the parameter store as pulumi-aws would, a missing parameter included.
func (s *standin) invokeSSM(tok string, args resource.PropertyMap) (resource.PropertyMap, error) {
	s.ssmMu.Lock()
	defer s.ssmMu.Unlock()
	st, err := s.loadSSM()
	if err != nil {
		return nil, err
	}
	return s.store(st).Call(pulumi.MockCallArgs{Token: tok, Args: args})
}
