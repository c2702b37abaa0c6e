package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"appstack/internal/offline"
	"appstack/stacks"
)

// deployment is what lifecycle reads of a stack's last deployment (`pulumi stack export`, no secrets shown).
type deployment struct {
	// SecretsProviders is the secrets manager the deployment was encrypted with: its type and state (a cloud
	// provider's URL and encrypted data key, or a passphrase salt).
	SecretsProviders *struct {
		Type  string          `json:"type"`
		State json.RawMessage `json:"state"`
	} `json:"secrets_providers"`
	Resources []struct {
		URN     string         `json:"urn"`
		Type    string         `json:"type"`
		Inputs  map[string]any `json:"inputs"`
		Outputs map[string]any `json:"outputs"`
	} `json:"resources"`
}

func readDeployment(ctx context.Context, ws auto.Workspace, name string) (deployment, error) {
	var d deployment
	raw, err := ws.ExportStack(ctx, name)
	if err != nil {
		return d, err
	}
	if len(raw.Deployment) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(raw.Deployment, &d); err != nil {
		return d, fmt.Errorf("reading the exported deployment: %w", err)
	}
	return d, nil
}

// stackOutput is a plain string output of the deployment's root stack resource ("" if absent or not a string).
func (d deployment) stackOutput(key string) (string, bool) {
	for _, r := range d.Resources {
		if r.Type == "pulumi:pulumi:Stack" {
			s, ok := r.Outputs[key].(string)
			return s, ok
		}
	}
	return "", false
}

// stackInfo is what the lifecycle needs to know of a stack before it touches it.
type stackInfo struct {
	// Environment is appstack:environment.
	Environment string
	// ExpiresAt is appstack:expiresAt (RFC 3339), if any.
	ExpiresAt string
	// From says where they were read.
	From string
}

// describe reads a stack's environment and expiry: from its stack file on this runner (a committed stack, or a
// review stack this run configured), else from its last deployment's outputs, which every runner can read.
func (m *Manager) describe(ctx context.Context, ws auto.Workspace, name string) (stackInfo, error) {
	if f, err := ReadStackConfig(ws.WorkDir(), name); err == nil {
		env := f.Config[stacks.Namespace+":environment"]
		if env != "" {
			return stackInfo{Environment: env, ExpiresAt: f.Config[stacks.Namespace+":expiresAt"],
				From: "Pulumi." + name + ".yaml"}, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return stackInfo{}, fmt.Errorf("stack %s: %w", name, err)
	}
	d, err := readDeployment(ctx, ws, name)
	if err != nil {
		return stackInfo{}, fmt.Errorf("stack %s: no stack file on this runner, and its last deployment cannot "+
			"be read: %w", name, err)
	}
	env, ok := d.stackOutput("environment")
	if !ok || env == "" {
		return stackInfo{}, fmt.Errorf("stack %s: cannot tell its environment: no stack file on this runner, "+
			"and its last deployment (%d resources) has no environment output; inspect it with pulumi stack "+
			"export --stack %s and destroy it by hand if it is a leftover", name, len(d.Resources), name)
	}
	expires, _ := d.stackOutput("expiresAt")
	return stackInfo{Environment: env, ExpiresAt: expires, From: "its last deployment"}, nil
}

// stackFileSecrets is the secrets part of a stack file.
type stackFileSecrets struct {
	SecretsProvider string `yaml:"secretsprovider"`
	EncryptedKey    string `yaml:"encryptedkey"`
	EncryptionSalt  string `yaml:"encryptionsalt"`
}

func readStackFileSecrets(path string) (stackFileSecrets, bool) {
	var s stackFileSecrets
	raw, err := os.ReadFile(path)
	if err != nil {
		return s, false
	}
	return s, yaml.Unmarshal(raw, &s) == nil
}

// CheckStackFile enforces the rule every committed stack file keeps so that any runner can decrypt it: a stack
// file that names a secrets provider, holds an encrypted data key or holds a secure value commits both the
// `secretsprovider:` and the `encryptedkey:` line (or, for the passphrase provider, `encryptionsalt:`). With
// only `secretsprovider:`, the CLI makes a new data key on each runner (pulumi/pulumi v3.200.0,
// pkg/secrets/cloud/manager.go, NewCloudSecretsManager: `if info.EncryptedKey == "" ... generateNewDataKey`),
// which cannot decrypt what the last runner encrypted.
func CheckStackFile(name string, raw []byte) error {
	var s stackFileSecrets
	if err := yaml.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// A key without a namespace is the project's, as the CLI reads it.
	project := &workspace.Project{Name: tokens.PackageName(stacks.Namespace)}
	f, err := workspace.LoadProjectStackBytes(nil, project, raw, name, encoding.YAML)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var secretKeys []string
	for _, k := range f.Config.SecureKeys() {
		secretKeys = append(secretKeys, k.String())
	}
	slices.Sort(secretKeys)
	cloud := s.SecretsProvider != "" && s.SecretsProvider != "passphrase" && s.SecretsProvider != "default"
	switch {
	case cloud && s.EncryptedKey == "":
		return fmt.Errorf("%s: secretsprovider: %s is committed without encryptedkey:, so every runner makes a "+
			"new data key and cannot decrypt the stack's secrets: commit both lines, as pulumi stack init "+
			"--secrets-provider writes them", name, s.SecretsProvider)
	case s.EncryptedKey != "" && !cloud:
		return fmt.Errorf("%s: encryptedkey: is committed without the secretsprovider: that encrypted it: "+
			"commit both lines", name)
	case len(secretKeys) > 0 && !cloud && s.EncryptionSalt == "":
		return fmt.Errorf("%s: holds secure values (%s) but no secretsprovider: and encryptedkey:, so no runner "+
			"can decrypt them: commit both lines", name, strings.Join(secretKeys, ", "))
	}
	return nil
}

// CheckPlaceholders refuses a stack file with a `secure:` value that no secrets provider wrote (an example's
// placeholder, offline.StackFile.Placeholders): the CLI decrypts every secure value before the program runs and
// stops at such a one with "could not decrypt configuration value: : bad value", naming no key
// (pulumi/pulumi sdk/go/common/resource/config crypt.go, symmetricCrypter.DecryptValue). Each placeholder is
// named by its key, with the command that replaces it with ciphertext.
func CheckPlaceholders(stack string, raw []byte) error {
	file := "Pulumi." + stack + ".yaml"
	f, err := offline.ParseStackFile(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	for _, k := range f.Placeholders {
		errs = append(errs, fmt.Errorf("%s: %s holds a placeholder, not ciphertext, which pulumi cannot decrypt: "+
			"set it with pulumi config set --stack %s --secret --path '%s' VALUE", file, k, stack, k))
	}
	return errors.Join(errs...)
}

// decryptFailure recognises the CLI's errors for configuration or state it could not decrypt.
func decryptFailure(err error) bool {
	msg := err.Error()
	for _, s := range []string{"failed to decrypt", "could not decrypt", "message authentication failed", "incorrect passphrase", "passphrase must be set",
		"unable to decrypt", "InvalidCiphertextException", "getting secrets manager", "constructing secrets manager"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// secretsBefore reads the secrets lines of a stack's file on this runner before a step runs: where the file
// names a provider but no key, the CLI writes the new data key it makes into the file, so the file read after a
// failure no longer shows what was committed.
func (m *Manager) secretsBefore(name string) func(step string, err error) error {
	path, perr := m.stackFile(name)
	var s stackFileSecrets
	ok := false
	if perr == nil {
		s, ok = readStackFileSecrets(path)
	}
	return func(step string, err error) error { return explain(name, step, s, ok, err) }
}

// explain turns a failed step's error into one that says what it is: a decrypt failure names the stack, its
// secrets provider (as the stack file had it before the step) and the likely fix; anything else names the stack
// and the step.
func explain(name, step string, s stackFileSecrets, ok bool, err error) error {
	if !decryptFailure(err) {
		return fmt.Errorf("stack %s: %s: %w", name, step, err)
	}
	switch {
	case ok && s.SecretsProvider != "" && s.EncryptedKey == "" && s.SecretsProvider != "passphrase":
		return fmt.Errorf("stack %s: %s: cannot decrypt %s:secrets of %s with its secrets provider %s: "+
			"Pulumi.%s.yaml has no encryptedkey:, so this runner made a new data key: commit encryptedkey "+
			"(both lines that pulumi stack init --secrets-provider writes): %w", name, step, stacks.Namespace, name,
			s.SecretsProvider, name, err)
	case ok && s.SecretsProvider != "":
		return fmt.Errorf("stack %s: %s: cannot decrypt %s:secrets of %s with its secrets provider %s (check "+
			"that this runner may use the key, and that encryptedkey: in Pulumi.%s.yaml is the committed one): %w",
			name, step, stacks.Namespace, name, s.SecretsProvider, name, err)
	case ok && s.EncryptionSalt != "":
		return fmt.Errorf("stack %s: %s: cannot decrypt %s:secrets of %s with its passphrase secrets provider "+
			"(PULUMI_CONFIG_PASSPHRASE on this runner): %w", name, step, stacks.Namespace, name, err)
	}
	return fmt.Errorf("stack %s: %s: cannot decrypt %s:secrets of %s: no secrets provider in its stack file, "+
		"and none recovered from its last deployment (commit secretsprovider: and encryptedkey:): %w", name, step,
		stacks.Namespace, name, err)
}

// syncProject copies the project's files (git's tracked and untracked-but-not-ignored files, as a fresh clone
// plus the job's own changes would have them) into dst, leaving alone the stack files dst already has, and when
// binary is set writes dst's Pulumi.yaml with runtime.options.binary — the committed Pulumi.yaml is never edited.
func syncProject(dir, dst, binary string) error {
	files, err := projectFiles(dir)
	if err != nil {
		return err
	}
	for _, rel := range files {
		from := filepath.Join(dir, rel)
		info, err := os.Lstat(from)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or a link or directory entry (submodule)
		}
		to := filepath.Join(dst, rel)
		if base := filepath.Base(rel); rel == base && strings.HasPrefix(base, "Pulumi.") && base != "Pulumi.yaml" {
			if _, err := os.Stat(to); err == nil {
				continue
			}
		}
		raw, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, raw, info.Mode().Perm()); err != nil {
			return err
		}
	}
	if binary == "" {
		return nil
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("-binary: %w", err)
	}
	path := filepath.Join(dst, "Pulumi.yaml")
	project, err := workspace.LoadProject(path)
	if err != nil {
		return fmt.Errorf("project %s: %w", filepath.Join(dir, "Pulumi.yaml"), err)
	}
	project.Runtime.SetOption("binary", abs)
	return project.Save(path)
}

// projectFiles lists the project's files relative to dir: git's view where dir is in a git work tree, else every
// file but hidden directories and bin/.
func projectFiles(dir string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}
