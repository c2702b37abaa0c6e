package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// StackConfig is a stack's configuration as the Pulumi CLI hands it to the program: the stack file's values over
// the project's (Pulumi.yaml `config:` `value:` and `default:`), secure values left encrypted.
type StackConfig struct {
	// Config maps each key (appstack:services) to its value; objects and lists are JSON, as in PULUMI_CONFIG, and
	// a secure value (or a secure part of an object) reads "[secret]".
	Config map[string]string
	// SecretKeys are the keys whose value is secure, or holds a secure value, sorted.
	SecretKeys []string
}

// ReadStackConfig reads the configuration of stack in the project at dir with the Pulumi SDK's own loaders
// (workspace.LoadProject, workspace.LoadProjectStack), then applies the project's config values and defaults
// to the keys the stack file does not set, as the CLI does before it runs the program. A missing stack file is
// an error that wraps fs.ErrNotExist.
func ReadStackConfig(dir, stack string) (*StackConfig, error) {
	projectPath := filepath.Join(dir, "Pulumi.yaml")
	project, err := workspace.LoadProject(projectPath)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, project.StackConfigDir, "Pulumi."+stack+".yaml")
	// LoadProjectStack answers a missing file with an empty stack; the callers need to tell the two apart.
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	ps, err := workspace.LoadProjectStack(nil, project, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := ps.Config
	if err := applyProjectConfig(project, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", projectPath, err)
	}
	out := &StackConfig{Config: map[string]string{}}
	blind := config.NewBlindingDecrypter()
	for k, v := range cfg {
		s, err := v.Value(blind)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		out.Config[k.String()] = s
		if v.Secure() {
			out.SecretKeys = append(out.SecretKeys, k.String())
		}
	}
	slices.Sort(out.SecretKeys)
	return out, nil
}

// applyProjectConfig sets each key the project's config declares with a value or a default and the stack leaves
// unset. The SDK at v3.256.0 keeps the project and stack types but no longer the function that merges them, so
// this follows the CLI's: pulumi/pulumi sdk/go/common/workspace/config.go (v3.200.0), mergeConfig with
// parseConfigKey and createConfigValue — a default wins over a value, a key without a namespace is the project's,
// a string, int or bool is a plain value and anything else its JSON. Stack environments (ESC) are left out: only
// the service can open them.
func applyProjectConfig(project *workspace.Project, cfg config.Map) error {
	keys := make([]string, 0, len(project.Config))
	for k := range project.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		t := project.Config[name]
		if t.Value == nil && t.Default == nil {
			continue
		}
		key, err := projectConfigKey(project.Name.String(), name)
		if err != nil {
			return err
		}
		if _, set, err := cfg.Get(key, true); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		} else if set {
			continue
		}
		raw := t.Value
		if t.Default != nil {
			raw = t.Default
		}
		v, err := projectConfigValue(raw)
		if err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		if err := cfg.Set(key, v, true); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
	}
	return nil
}

// projectConfigKey is the key a project's config entry names; one without a namespace is the project's.
func projectConfigKey(project, name string) (config.Key, error) {
	if strings.Contains(name, ":") {
		return config.ParseKey(name)
	}
	return config.MustMakeKey(project, name), nil
}

// projectConfigValue is a project config value or default as the stack holds it.
func projectConfigValue(raw any) (config.Value, error) {
	switch raw.(type) {
	case string, int, bool:
		return config.NewValue(fmt.Sprint(raw)), nil
	}
	v, err := workspace.SimplifyMarshalledValue(raw)
	if err != nil {
		return config.Value{}, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return config.Value{}, err
	}
	return config.NewObjectValue(string(b)), nil
}
