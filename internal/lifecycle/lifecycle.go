// Package lifecycle is the stack lifecycle the workflows drive, on the Pulumi Automation API: create or select
// a stack, copy configuration from a base stack, set the ephemeral profile and an expiry, up, preview to a file,
// destroy and remove, reap expired review stacks, release a stale lock, record outputs, roll back to recorded
// digests and detect drift. cmd/stackctl is its command line.
//
// Every step works from a fresh clone with nothing kept from the last step but the backend: a runner has only
// the committed files. A review stack's secrets provider (with its encrypted data key) is recovered from the
// stack's last deployment by the CLI itself (PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER, see FallbackEnv), and its
// environment and expiry from the outputs the program exports (infra.Program: environment, expiresAt).
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/stacks"
)

// ReviewPrefix names review stacks: pr-<number>.
const ReviewPrefix = "pr-"

// FallbackEnv makes the Pulumi CLI take a stack's secrets provider from its last deployment when the stack file
// on this runner names none (pulumi/pulumi v3.200.0, pkg/cmd/pulumi/stack/secrets.go, SecretsManagerLoader:
// with FallbackToState it uses the snapshot's secrets manager and writes its provider and encrypted key into the
// runner's stack file; without it a DIY backend falls back to DefaultSecretManager, a new passphrase manager,
// which asks for a passphrase — pkg/backend/diy/backend.go). Every workspace of a Manager sets it.
const FallbackEnv = "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"

// Manager runs lifecycle steps for one project. The steps run in a temporary copy of the project (ProjectDir),
// so that nothing they or the CLI write — Pulumi.yaml naming a binary, a stack file with a recovered secrets
// provider, a review stack's configuration, a rollback's pinned images — lands in the checkout.
type Manager struct {
	// Dir is the project directory, with Pulumi.yaml and the stack files. Required.
	Dir string
	// Program runs inline when set (tests); otherwise the project's own program runs, built by the Go language
	// host or taken from Binary.
	Program pulumi.RunFunc
	// Options are passed to every workspace (environment, a Pulumi command, a secrets provider).
	Options []auto.LocalWorkspaceOption
	// Binary is a prebuilt program binary that every step reuses (runtime.options.binary), so that a job
	// compiles the AWS SDK once, not once per preview and up. The committed Pulumi.yaml is never edited: the
	// copy's Pulumi.yaml names the binary. Optional.
	Binary string
	// PolicyPacks are policy pack directories every real preview and up runs (pulumi --policy-pack). Optional.
	PolicyPacks []string
	// Progress receives one line per step. Default: standard error.
	Progress io.Writer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Parameters deletes the readiness signals a destroyed stack's hosts left in SSM. Default: SSMStore, with
	// the region and profile of the stack's AWS provider.
	Parameters ParameterStore
	// Identities removes the review stacks' host roles and instance profiles that no stack's state lists (Reap).
	// Default: IAMStore, with the standard AWS configuration chain.
	Identities IdentityStore

	copyMu  sync.Mutex
	copyDir string
}

func (m *Manager) progress(stack, format string, args ...any) {
	w := m.Progress
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "stackctl: [%s] %s\n", stack, fmt.Sprintf(format, args...))
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Close removes the temporary project copy, if a step made one.
func (m *Manager) Close() error {
	if m.copyDir == "" {
		return nil
	}
	return os.RemoveAll(m.copyDir)
}

// ProjectDir is the directory the steps run in: a temporary copy of Dir, made on first use and removed by Close.
// Each call brings the copy up to date with Dir, except for the stack files, which belong to the copy once it
// has them (the CLI and rollback write there).
func (m *Manager) ProjectDir() (string, error) {
	m.copyMu.Lock()
	defer m.copyMu.Unlock()
	if m.copyDir == "" {
		dir, err := os.MkdirTemp("", "stackctl-project-")
		if err != nil {
			return "", err
		}
		m.copyDir = dir
	}
	if err := syncProject(m.Dir, m.copyDir, m.Binary); err != nil {
		return "", err
	}
	return m.copyDir, nil
}

// workspace is a workspace on the project without selecting a stack.
func (m *Manager) workspace(ctx context.Context) (auto.Workspace, error) {
	dir, err := m.ProjectDir()
	if err != nil {
		return nil, err
	}
	opts := append([]auto.LocalWorkspaceOption{auto.WorkDir(dir)}, m.Options...)
	if m.Program != nil {
		opts = append(opts, auto.Program(m.Program))
	}
	ws, err := auto.NewLocalWorkspace(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if err := ws.SetEnvVars(map[string]string{FallbackEnv: "true"}); err != nil {
		return nil, err
	}
	return ws, nil
}

// Stack creates the stack if it does not exist, or selects it.
func (m *Manager) Stack(ctx context.Context, name string) (auto.Stack, error) {
	ws, err := m.workspace(ctx)
	if err != nil {
		return auto.Stack{}, err
	}
	return auto.UpsertStack(ctx, name, ws)
}

// stackFile is the path of a stack's file in the directory the steps run in.
func (m *Manager) stackFile(name string) (string, error) {
	dir, err := m.ProjectDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "Pulumi."+name+".yaml"), nil
}

// ReviewName is the stack name of a pull request's review stack.
func ReviewName(pr int) string { return ReviewPrefix + strconv.Itoa(pr) }

// CreateReview creates (or refreshes the configuration of) the review stack of a pull request: the base stack's
// configuration, the ephemeral profile and an expiry ttl from now. On a runner that did not create the stack,
// the CLI recovers its secrets provider from its last deployment.
func (m *Manager) CreateReview(ctx context.Context, pr int, base string, ttl time.Duration) (auto.Stack, error) {
	if pr <= 0 {
		return auto.Stack{}, fmt.Errorf("pull request number %d: want a positive number", pr)
	}
	name := ReviewName(pr)
	ws, err := m.workspace(ctx)
	if err != nil {
		return auto.Stack{}, err
	}
	config, err := m.baseConfig(ctx, ws, base)
	if err != nil {
		return auto.Stack{}, err
	}
	if err := m.dropUndeployed(ctx, ws, name); err != nil {
		return auto.Stack{}, err
	}
	explain := m.secretsBefore(name)
	m.progress(name, "creating or selecting the stack, with %s's configuration", base)
	st, err := auto.UpsertStack(ctx, name, ws)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("stack %s: %w", name, err)
	}
	dropped, err := dropAdoptions(config)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("stack %s: base stack %s: %w", name, base, err)
	}
	if len(dropped) > 0 {
		m.progress(name, "not copied from %s (a review stack creates its own resources): %s", base,
			strings.Join(dropped, ", "))
	}
	expires := m.now().Add(ttl).UTC().Format(time.RFC3339)
	config[stacks.Namespace+":environment"] = auto.ConfigValue{Value: string(stacks.Ephemeral)}
	config[stacks.Namespace+":expiresAt"] = auto.ConfigValue{Value: expires}
	if err := st.SetAllConfig(ctx, config); err != nil {
		return auto.Stack{}, explain("setting its configuration", err)
	}
	m.progress(name, "ephemeral profile set; expires at %s", expires)
	return st, nil
}

// dropUndeployed removes a review stack that exists in the backend but was never deployed (its first job
// stopped before the up wrote a deployment): with no deployment there is no secrets provider to recover, and
// nothing to destroy, so the stack is made afresh.
func (m *Manager) dropUndeployed(ctx context.Context, ws auto.Workspace, name string) error {
	if !inBackend(ctx, ws, name) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(ws.WorkDir(), "Pulumi."+name+".yaml")); err == nil {
		return nil
	}
	d, err := readDeployment(ctx, ws, name)
	if err != nil {
		return fmt.Errorf("stack %s: reading its last deployment: %w", name, err)
	}
	if d.SecretsProviders != nil || len(d.Resources) > 0 {
		return nil
	}
	m.progress(name, "in the backend but never deployed: removing it to start afresh")
	if err := ws.RemoveStack(ctx, name); err != nil {
		return fmt.Errorf("stack %s: remove: %w", name, err)
	}
	return nil
}

// baseConfig reads the base stack's configuration from the backend, secrets decrypted so they can be
// re-encrypted for the new stack. Where the base stack is not in the backend, it reads the committed stack file
// over the project's config defaults (ReadStackConfig), which must then hold no secrets.
func (m *Manager) baseConfig(ctx context.Context, ws auto.Workspace, base string) (auto.ConfigMap, error) {
	if inBackend(ctx, ws, base) {
		explain := m.secretsBefore(base)
		cfg, err := ws.GetAllConfig(ctx, base)
		if err != nil {
			return nil, explain("reading its configuration (the base of a review stack)", err)
		}
		return cfg, nil
	}
	f, err := ReadStackConfig(ws.WorkDir(), base)
	if err != nil {
		return nil, fmt.Errorf("base stack %s is neither in the backend nor committed: %w", base, err)
	}
	if len(f.SecretKeys) > 0 {
		return nil, fmt.Errorf("base stack %s is not in the backend, and its committed file holds secrets (%s) "+
			"that only the backend can decrypt: create it first (pulumi stack init %s)", base,
			strings.Join(f.SecretKeys, ", "), base)
	}
	out := auto.ConfigMap{}
	for k, v := range f.Config {
		out[k] = auto.ConfigValue{Value: v}
	}
	return out, nil
}

func inBackend(ctx context.Context, ws auto.Workspace, name string) bool {
	list, err := ws.ListStacks(ctx)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(list, func(s auto.StackSummary) bool { return shortName(s.Name) == name })
}

func shortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// ready makes sure a stack can run its program on this runner: a review stack's configuration is not in the
// backend (a DIY backend keeps none), so on a fresh runner only `stackctl review` can rebuild it; and no secure
// value in the stack file is a placeholder, which the CLI would refuse without naming it (CheckPlaceholders).
func (m *Manager) ready(name string) error {
	path, err := m.stackFile(name)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	switch {
	case err != nil && strings.HasPrefix(name, ReviewPrefix):
		pr := strings.TrimPrefix(name, ReviewPrefix)
		return fmt.Errorf("stack %s: its configuration is rebuilt from the base stack on each run: use "+
			"stackctl review -pr %s (or destroy, reap), not a bare up or preview", name, pr)
	case err != nil:
		return nil // a stack with no file: its configuration is in the backend
	}
	if err := CheckPlaceholders(name, raw); err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	return nil
}

// Up deploys a stack, with the policy packs.
func (m *Manager) Up(ctx context.Context, name string, opts ...optup.Option) (auto.UpResult, error) {
	if err := m.ready(name); err != nil {
		return auto.UpResult{}, err
	}
	explain := m.secretsBefore(name)
	st, err := m.Stack(ctx, name)
	if err != nil {
		return auto.UpResult{}, fmt.Errorf("stack %s: %w", name, err)
	}
	if len(m.PolicyPacks) > 0 {
		opts = append([]optup.Option{optup.PolicyPacks(m.PolicyPacks...)}, opts...)
	}
	m.progress(name, "pulumi up%s", m.packNote())
	res, err := st.Up(ctx, opts...)
	if err != nil {
		return res, explain("up", err)
	}
	m.progress(name, "up done: %s", summary(res.Summary.ResourceChanges))
	return res, nil
}

func (m *Manager) packNote() string {
	if len(m.PolicyPacks) == 0 {
		return ""
	}
	return " --policy-pack " + strings.Join(m.PolicyPacks, " --policy-pack ")
}

// Preview writes the stack's preview, with the diff and the policy packs' findings, to path.
func (m *Manager) Preview(ctx context.Context, name, path string, opts ...optpreview.Option) error {
	if err := m.ready(name); err != nil {
		return err
	}
	explain := m.secretsBefore(name)
	st, err := m.Stack(ctx, name)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	opts = append([]optpreview.Option{optpreview.Diff(), optpreview.ProgressStreams(f)}, opts...)
	if len(m.PolicyPacks) > 0 {
		opts = append(opts, optpreview.PolicyPacks(m.PolicyPacks...))
	}
	m.progress(name, "pulumi preview --diff%s > %s", m.packNote(), path)
	_, err = st.Preview(ctx, opts...)
	if closeErr := f.Close(); err == nil && closeErr != nil {
		return closeErr
	}
	if err != nil {
		return explain("preview", err)
	}
	return nil
}

// ErrNotEphemeral refuses to destroy a stack that is not ephemeral.
var ErrNotEphemeral = errors.New("stackctl destroys only ephemeral stacks; destroy others with pulumi destroy")

// Destroy destroys an ephemeral stack's resources and removes the stack. Whether the stack is ephemeral comes
// from its stack file on this runner or, where there is none (a review stack on a fresh runner), from its last
// deployment's outputs.
func (m *Manager) Destroy(ctx context.Context, name string) error {
	ws, err := m.workspace(ctx)
	if err != nil {
		return err
	}
	info, err := m.describe(ctx, ws, name)
	if err != nil {
		return err
	}
	if info.Environment != string(stacks.Ephemeral) {
		return fmt.Errorf("stack %s (environment %q, from %s): %w", name, info.Environment, info.From,
			ErrNotEphemeral)
	}
	return m.destroy(ctx, ws, name)
}

func (m *Manager) destroy(ctx context.Context, ws auto.Workspace, name string) error {
	explain := m.secretsBefore(name)
	st, err := auto.SelectStack(ctx, name, ws)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	// The deployment names the account and region its hosts wrote their readiness signals in; read it before
	// the stack is removed.
	d, err := readDeployment(ctx, ws, name)
	if err != nil {
		return fmt.Errorf("stack %s: reading its last deployment: %w", name, err)
	}
	region, profile := d.awsProvider()
	project, err := ws.ProjectSettings(ctx)
	if err != nil {
		return err
	}
	m.progress(name, "pulumi destroy")
	if _, err := st.Destroy(ctx, optdestroy.Remove()); err != nil {
		return explain("destroy", err)
	}
	// optdestroy.Remove removes the stack after a successful destroy; make sure it is gone on older CLIs too.
	if inBackend(ctx, ws, name) {
		if err := ws.RemoveStack(ctx, name); err != nil {
			return fmt.Errorf("stack %s: remove: %w", name, err)
		}
	}
	m.progress(name, "destroyed and removed")
	if len(d.Resources) == 0 {
		return nil // never deployed: no host wrote anything
	}
	return m.cleanParameters(ctx, string(project.Name), name, region, profile)
}

// Reap destroys and removes every ephemeral stack past its expiry, or whose pull request is closed, and
// returns their names; then it removes the review stacks' host roles and instance profiles that no remaining
// stack's state lists (reapIdentities). Stacks that are not ephemeral are never touched. A review stack (pr-*) whose environment
// and expiry cannot be read is an error that names it: a leak is never silent.
func (m *Manager) Reap(ctx context.Context, closedPRs []int) ([]string, error) {
	ws, err := m.workspace(ctx)
	if err != nil {
		return nil, err
	}
	list, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, err
	}
	var reaped []string
	var errs []error
	for _, s := range list {
		name := shortName(s.Name)
		info, err := m.describe(ctx, ws, name)
		if err != nil {
			if strings.HasPrefix(name, ReviewPrefix) {
				errs = append(errs, fmt.Errorf("reap: %w", err))
			} else {
				m.progress(name, "skipped: %v", err)
			}
			continue
		}
		why := m.reapReason(name, info, closedPRs)
		if why == "" {
			continue
		}
		m.progress(name, "reaping: %s", why)
		if err := m.destroy(ctx, ws, name); err != nil {
			errs = append(errs, err)
			continue
		}
		reaped = append(reaped, name)
	}
	// A role or instance profile a failed or cancelled review run created but never recorded is in no state.
	if err := m.reapIdentities(ctx, ws); err != nil {
		errs = append(errs, err)
	}
	return reaped, errors.Join(errs...)
}

// reapReason says why a stack is to be reaped, or "" to keep it.
func (m *Manager) reapReason(name string, info stackInfo, closedPRs []int) string {
	if info.Environment != string(stacks.Ephemeral) {
		return ""
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(name, ReviewPrefix)); err == nil &&
		strings.HasPrefix(name, ReviewPrefix) && slices.Contains(closedPRs, n) {
		return fmt.Sprintf("pull request #%d is closed", n)
	}
	raw := info.ExpiresAt
	expires, err := time.Parse(time.RFC3339, raw)
	switch {
	case raw == "":
		return "ephemeral with no expiry"
	case err != nil:
		return fmt.Sprintf("expiry %q is unreadable", raw)
	case !m.now().Before(expires):
		return "expired at " + raw
	}
	return ""
}

func summary(changes *map[string]int) string {
	if changes == nil {
		return "no changes reported"
	}
	var parts []string
	for _, op := range []string{"create", "update", "replace", "delete", "same"} {
		if n := (*changes)[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, op))
		}
	}
	return strings.Join(parts, ", ")
}

// dropAdoptions removes the base stack's adoption keys from a review stack's configuration
// (stacks.WithoutAdoptions): an ephemeral stack never takes over another stack's resources.
func dropAdoptions(config auto.ConfigMap) ([]string, error) {
	plain := map[string]string{}
	for k, v := range config {
		if !v.Secret {
			plain[k] = v.Value
		}
	}
	stripped, dropped, err := stacks.WithoutAdoptions(plain)
	if err != nil {
		return nil, err
	}
	for k, v := range plain {
		switch nv, ok := stripped[k]; {
		case !ok:
			delete(config, k)
		case nv != v:
			config[k] = auto.ConfigValue{Value: nv}
		}
	}
	return dropped, nil
}
