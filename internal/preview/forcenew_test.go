package preview_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appstack/internal/preview"
	"appstack/testing/offlinetest"
)

// providerSchema is testdata/forcenew.json: per type, the inputs the AWS provider replaces the resource on, as
// read from terraform-provider-aws's source, with where each was read.
type providerSchema struct {
	Types map[string]struct {
		Source string `json:"source"`
		// ForceNew maps a Pulumi input path to the upstream attribute that is ForceNew (or RequiresReplace).
		ForceNew map[string]string `json:"forceNew"`
		// ForceNewIf are the inputs a CustomizeDiff or ModifyPlan replaces on under a condition.
		ForceNewIf map[string]string `json:"forceNewIf"`
	} `json:"types"`
	// NotRead are types whose source has not been read yet: their replaceOn entries are not checked.
	NotRead map[string]string `json:"notRead"`
}

func loadProviderSchema(t *testing.T) providerSchema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(offlinetest.Root(), "internal", "preview", "testdata", "forcenew.json"))
	require.NoError(t, err)
	var s providerSchema
	require.NoError(t, json.Unmarshal(raw, &s))
	return s
}

// covers says whether a change at path is a change of field (the field itself or something inside it).
func covers(field, path string) bool {
	return path == field || strings.HasPrefix(path, field+".")
}

// inputPaths lists the leaf paths of a resource's inputs, list indexes dropped (rootBlockDevice.encrypted,
// encryptionConfigurations.encryptionType).
func inputPaths(inputs map[string]any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if prefix == "" {
					walk(k, y)
				} else {
					walk(prefix+"."+k, y)
				}
			}
		case []any:
			for _, y := range x {
				walk(prefix, y)
			}
		default:
			out = append(out, prefix)
		}
	}
	walk("", inputs)
	slices.Sort(out)
	return slices.Compact(out)
}

// The offline diff and the stand-in provider answer "does this replace it?" from preview.ReplaceOn. Every
// input the table names must be one the provider really replaces on, or the preview cries wolf.
func TestReplaceOnListsOnlyInputsTheProviderReplacesOn(t *testing.T) {
	schema := loadProviderSchema(t)
	for _, typ := range slices.Sorted(maps.Keys(preview.ReplaceOn)) {
		s, read := schema.Types[typ]
		if !read {
			_, known := schema.NotRead[typ]
			if !known && !strings.HasPrefix(typ, "docker:") {
				t.Errorf("%s: in ReplaceOn but not in testdata/forcenew.json: read its schema first", typ)
			}
			continue
		}
		for _, field := range preview.ReplaceOn[typ] {
			_, always := s.ForceNew[field]
			_, sometimes := s.ForceNewIf[field]
			if !always && !sometimes {
				t.Errorf("%s: ReplaceOn lists %q, which %s updates in place", typ, field, s.Source)
			}
		}
	}
}

// The other way round: an input appstack sets that the provider replaces on must be in ReplaceOn, or a
// preview shows an update where the deploy deletes and recreates (an address, a host, a table).
func TestEveryForceNewInputAppstackSetsIsInReplaceOn(t *testing.T) {
	schema := loadProviderSchema(t)
	checked := map[string]bool{}
	missing := map[string]string{} // "type: path" -> the failure, each reported once
	for _, stack := range []string{"staging", "production", "example", "fleet"} {
		r := report(t, stack, nil)
		for _, res := range r.Resources {
			s, read := schema.Types[res.Type]
			if !read {
				continue
			}
			checked[res.Type] = true
			for _, path := range inputPaths(res.Inputs) {
				for field, upstream := range s.ForceNew {
					if !covers(field, path) {
						continue
					}
					if !slices.ContainsFunc(preview.ReplaceOn[res.Type], func(t string) bool { return covers(t, path) }) {
						missing[res.Type+": "+path] = fmt.Sprintf("%s: appstack sets %s (stack %s), which replaces "+
							"the resource (%s in %s), but ReplaceOn does not list %s", res.Type, path, stack, upstream,
							s.Source, field)
					}
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(missing)) {
		t.Error(missing[k])
	}
	require.NotEmpty(t, checked, "the stacks declare none of the types read from the provider")
}
