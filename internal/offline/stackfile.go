// Package offline evaluates a Pulumi program with no cloud and no engine: it reads a committed stack file as
// config, answers every resource and invoke with deterministic values, and records what the program declared.
// The offline preview and the tests share it.
package offline

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"
)

// SecretPlaceholder stands in for every `secure:` value: a stack file holds ciphertext that only the stack's
// secrets provider can read, and the offline preview never needs the real value.
const SecretPlaceholder = "offline-placeholder-secret"

// StackFile is a stack's configuration as Pulumi passes it to a program.
type StackFile struct {
	// Config maps each key to its value; objects and lists are JSON, as in PULUMI_CONFIG.
	Config map[string]string
	// SecretKeys are the keys holding a secure value (at any depth).
	SecretKeys []string
}

// ReadStackFile reads a Pulumi.<stack>.yaml.
func ReadStackFile(path string) (*StackFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStackFile(raw)
}

// ParseStackFile parses the contents of a Pulumi.<stack>.yaml.
func ParseStackFile(raw []byte) (*StackFile, error) {
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("stack file: %w", err)
	}
	f := &StackFile{Config: map[string]string{}}
	for k, v := range doc.Config {
		secret := false
		v = replaceSecure(v, &secret)
		if secret {
			f.SecretKeys = append(f.SecretKeys, k)
		}
		switch t := v.(type) {
		case string:
			f.Config[k] = t
		case map[string]any, []any:
			b, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("stack file: %s: %w", k, err)
			}
			f.Config[k] = string(b)
		case nil:
			f.Config[k] = ""
		default:
			f.Config[k] = fmt.Sprint(t)
		}
	}
	slices.Sort(f.SecretKeys)
	return f, nil
}

// replaceSecure swaps each {secure: ciphertext} for SecretPlaceholder and notes that it saw one.
func replaceSecure(v any, secret *bool) any {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["secure"].(string); ok && len(t) == 1 {
			*secret = true
			return SecretPlaceholder
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = replaceSecure(x, secret)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = replaceSecure(x, secret)
		}
		return out
	default:
		return v
	}
}
