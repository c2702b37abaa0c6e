// Package offline evaluates a Pulumi program with no cloud and no engine: it reads a committed stack file as
// config, answers every resource and invoke with deterministic values, and records what the program declared.
// The offline preview and the tests share it.
package offline

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
	// Placeholders are the paths (appstack:secrets.JWT_SECRET) of secure values that are not ciphertext any
	// secrets provider wrote, such as an example's stand-in: pulumi cannot decrypt them.
	Placeholders []string
}

// ReadStackFile reads a Pulumi.<stack>.yaml. A YAML error names the file and the line (path:line: problem).
func ReadStackFile(path string) (*StackFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseStackFile(raw)
	var yerr *YAMLError
	if errors.As(err, &yerr) {
		yerr.File = path
	}
	return f, err
}

// YAMLError is a stack file that is not valid YAML, or not a map of config keys.
type YAMLError struct {
	// File is the stack file's path, when known.
	File string
	// Line is the 1-based line of the problem, 0 when the parser gives none.
	Line int
	// Problem is the parser's message.
	Problem string
}

func (e *YAMLError) Error() string {
	file := e.File
	if file == "" {
		file = "stack file"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", file, e.Line, e.Problem)
	}
	return fmt.Sprintf("%s: %s", file, e.Problem)
}

// yamlLineRE is the position yaml.v3 puts before a syntax error.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into a YAMLError on the right line. For a syntax error yaml.v3 names the line
// where the enclosing block starts, not the line that breaks it (gopkg.in/yaml.v3 decode.go, parser.fail,
// prefers the parser's context mark over its problem mark), so the line is found again: the first line at
// which the document, cut after it, fails with the same problem.
func yamlError(raw []byte, err error) *YAMLError {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &YAMLError{Problem: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	lines := strings.SplitAfter(string(raw), "\n")
	for n := 1; n <= len(lines); n++ {
		var doc any
		perr := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &doc)
		if perr == nil {
			continue
		}
		if pm := yamlLineRE.FindStringSubmatch(perr.Error()); pm != nil && pm[2] == m[2] {
			line = n
		}
		break
	}
	return &YAMLError{Line: line, Problem: m[2]}
}

// ParseStackFile parses the contents of a Pulumi.<stack>.yaml. A YAML error is a *YAMLError.
func ParseStackFile(raw []byte) (*StackFile, error) {
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, yamlError(raw, err)
	}
	f := &StackFile{Config: map[string]string{}}
	for k, v := range doc.Config {
		secret := false
		v = replaceSecure(v, k, &secret, &f.Placeholders)
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
	slices.Sort(f.Placeholders)
	return f, nil
}

// replaceSecure swaps each {secure: ciphertext} under path for SecretPlaceholder, notes that it saw one, and
// adds the path of each value that is not ciphertext to placeholders.
func replaceSecure(v any, path string, secret *bool, placeholders *[]string) any {
	switch t := v.(type) {
	case map[string]any:
		if c, ok := t["secure"].(string); ok && len(t) == 1 {
			*secret = true
			if !isCiphertext(c) {
				*placeholders = append(*placeholders, path)
			}
			return SecretPlaceholder
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = replaceSecure(x, path+"."+k, secret, placeholders)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = replaceSecure(x, fmt.Sprintf("%s[%d]", path, i), secret, placeholders)
		}
		return out
	default:
		return v
	}
}

// isCiphertext reports whether a secure value has a form some secrets provider writes: v1:<nonce>:<ciphertext>,
// both base64, from the passphrase and cloud (awskms, …) providers (pulumi sdk/go/common/resource/config
// crypt.go, symmetricCrypter, whose DecryptValue answers anything else with "bad value"), or one base64 blob from
// the Pulumi Cloud service.
func isCiphertext(v string) bool {
	b64 := func(s string) bool {
		_, err := base64.StdEncoding.DecodeString(s)
		return s != "" && err == nil
	}
	if parts := strings.Split(v, ":"); len(parts) == 3 {
		return parts[0] == "v1" && b64(parts[1]) && b64(parts[2])
	}
	return b64(v)
}

// StackNames lists the stacks dir holds a Pulumi.<stack>.yaml for, sorted.
func StackNames(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "Pulumi."), ".yaml"))
	}
	slices.Sort(names)
	return names
}
