package offlinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// StandinParameters is the stand-in provider's parameter store (the file named by APPSTACK_STANDIN_SSM), where
// its modelled hosts write their readiness signals, seen the way lifecycle.ParameterStore sees SSM on a real
// account.
type StandinParameters struct {
	// File is the store.
	File string
	// Region is the region the stack's provider was configured with; DeletePath refuses any other, as SSM in
	// another region would hold none of the stack's parameters.
	Region string
}

func (p StandinParameters) load() (map[string]any, map[string]any, error) {
	raw, err := os.ReadFile(p.File)
	if err != nil {
		return nil, nil, err
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, nil, err
	}
	params, _ := st["parameters"].(map[string]any)
	return st, params, nil
}

// DeletePath deletes every parameter under path.
func (p StandinParameters) DeletePath(_ context.Context, region, _, path string) ([]string, error) {
	if region != p.Region {
		return nil, fmt.Errorf("the stack's provider region is %s, not %q", p.Region, region)
	}
	st, params, err := p.load()
	if err != nil {
		return nil, err
	}
	var deleted []string
	for name := range params {
		if strings.HasPrefix(name, path) {
			delete(params, name)
			deleted = append(deleted, name)
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return deleted, os.WriteFile(p.File, raw, 0o600)
}

// Under lists the parameters under path.
func (p StandinParameters) Under(t *testing.T, path string) []string {
	t.Helper()
	_, params, err := p.load()
	require.NoError(t, err)
	var out []string
	for name := range params {
		if strings.HasPrefix(name, path) {
			out = append(out, name)
		}
	}
	return out
}
