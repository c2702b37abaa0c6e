// Package lifecycle is the stack lifecycle the workflows drive, on the Pulumi Automation API: create or select
// a stack, copy configuration from a base stack, set the ephemeral profile and an expiry, up, preview to a file,
// destroy and remove, and reap expired review stacks. cmd/stackctl is its command line.
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
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/internal/offline"
	"appstack/stacks"
)

// ReviewPrefix names review stacks: pr-<number>.
const ReviewPrefix = "pr-"

// Manager runs lifecycle steps for one project.
type Manager struct {
	// Dir is the project directory, with Pulumi.yaml and the stack files. Required.
	Dir string
	// Program runs inline when set (tests); otherwise the project's own program runs, built by the Go language
	// host or taken from Pulumi.yaml's runtime.options.binary.
	Program pulumi.RunFunc
	// Options are passed to every workspace (environment, a Pulumi command, a secrets provider).
	Options []auto.LocalWorkspaceOption
	// Binary is a prebuilt program binary that every step reuses (Pulumi.yaml's runtime.options.binary), so
	// that a job compiles the AWS SDK once, not once per preview and up. Optional.
	Binary string
	// Progress receives one line per step. Default: standard error.
	Progress io.Writer
	// Now is the clock. Default time.Now.
	Now func() time.Time
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

// Stack creates the stack if it does not exist, or selects it.
func (m *Manager) Stack(ctx context.Context, name string) (auto.Stack, error) {
	opts := append([]auto.LocalWorkspaceOption{auto.WorkDir(m.Dir)}, m.Options...)
	if m.Program != nil {
		return auto.UpsertStackInlineSource(ctx, name, "appstack", m.Program, opts...)
	}
	opts = m.Options
	if m.Binary != "" {
		project, err := workspace.LoadProject(filepath.Join(m.Dir, "Pulumi.yaml"))
		if err != nil {
			return auto.Stack{}, err
		}
		project.Runtime.SetOption("binary", m.Binary)
		opts = append(opts, auto.Project(*project))
	}
	return auto.UpsertStackLocalSource(ctx, name, m.Dir, opts...)
}

// workspace is a workspace on the project without selecting a stack.
func (m *Manager) workspace(ctx context.Context) (auto.Workspace, error) {
	opts := append([]auto.LocalWorkspaceOption{auto.WorkDir(m.Dir)}, m.Options...)
	if m.Program != nil {
		opts = append(opts, auto.Program(m.Program))
	}
	return auto.NewLocalWorkspace(ctx, opts...)
}

// ReviewName is the stack name of a pull request's review stack.
func ReviewName(pr int) string { return ReviewPrefix + strconv.Itoa(pr) }

// CreateReview creates (or refreshes the configuration of) the review stack of a pull request: the base stack's
// configuration, the ephemeral profile and an expiry ttl from now.
func (m *Manager) CreateReview(ctx context.Context, pr int, base string, ttl time.Duration) (auto.Stack, error) {
	if pr <= 0 {
		return auto.Stack{}, fmt.Errorf("pull request number %d: want a positive number", pr)
	}
	name := ReviewName(pr)
	config, err := m.baseConfig(ctx, base)
	if err != nil {
		return auto.Stack{}, err
	}
	m.progress(name, "creating or selecting the stack, with %s's configuration", base)
	st, err := m.Stack(ctx, name)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("stack %s: %w", name, err)
	}
	expires := m.now().Add(ttl).UTC().Format(time.RFC3339)
	config[stacks.Namespace+":environment"] = auto.ConfigValue{Value: string(stacks.Ephemeral)}
	config[stacks.Namespace+":expiresAt"] = auto.ConfigValue{Value: expires}
	if err := st.SetAllConfig(ctx, config); err != nil {
		return auto.Stack{}, fmt.Errorf("stack %s: setting configuration: %w", name, err)
	}
	m.progress(name, "ephemeral profile set; expires at %s", expires)
	return st, nil
}

// baseConfig reads the base stack's configuration from the backend, secrets decrypted so they can be
// re-encrypted for the new stack. Where the base stack is not in the backend, it reads the committed stack file,
// which must then hold no secrets.
func (m *Manager) baseConfig(ctx context.Context, base string) (auto.ConfigMap, error) {
	ws, err := m.workspace(ctx)
	if err != nil {
		return nil, err
	}
	if cfg, err := ws.GetAllConfig(ctx, base); err == nil {
		return cfg, nil
	}
	f, err := offline.ReadStackFile(filepath.Join(m.Dir, "Pulumi."+base+".yaml"))
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

// Up deploys a stack.
func (m *Manager) Up(ctx context.Context, name string, opts ...optup.Option) (auto.UpResult, error) {
	st, err := m.Stack(ctx, name)
	if err != nil {
		return auto.UpResult{}, fmt.Errorf("stack %s: %w", name, err)
	}
	m.progress(name, "pulumi up")
	res, err := st.Up(ctx, opts...)
	if err != nil {
		return res, fmt.Errorf("stack %s: up: %w", name, err)
	}
	m.progress(name, "up done: %s", summary(res.Summary.ResourceChanges))
	return res, nil
}

// Preview writes the stack's preview, with the diff, to path.
func (m *Manager) Preview(ctx context.Context, name, path string) error {
	st, err := m.Stack(ctx, name)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	m.progress(name, "pulumi preview --diff > %s", path)
	_, err = st.Preview(ctx, optpreview.Diff(), optpreview.ProgressStreams(f))
	if closeErr := f.Close(); err == nil && closeErr != nil {
		return closeErr
	}
	if err != nil {
		return fmt.Errorf("stack %s: preview: %w", name, err)
	}
	return nil
}

// ErrNotEphemeral refuses to destroy a stack that is not ephemeral.
var ErrNotEphemeral = errors.New("stackctl destroys only ephemeral stacks; destroy others with pulumi destroy")

// Destroy destroys an ephemeral stack's resources and removes the stack.
func (m *Manager) Destroy(ctx context.Context, name string) error {
	ws, err := m.workspace(ctx)
	if err != nil {
		return err
	}
	cfg, err := ws.GetAllConfig(ctx, name)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	if cfg[stacks.Namespace+":environment"].Value != string(stacks.Ephemeral) {
		return fmt.Errorf("stack %s: %w", name, ErrNotEphemeral)
	}
	st, err := m.Stack(ctx, name)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	m.progress(name, "pulumi destroy")
	if _, err := st.Destroy(ctx, optdestroy.Remove()); err != nil {
		return fmt.Errorf("stack %s: destroy: %w", name, err)
	}
	// optdestroy.Remove removes the stack after a successful destroy; make sure it is gone on older CLIs too.
	if stillThere(ctx, ws, name) {
		if err := ws.RemoveStack(ctx, name); err != nil {
			return fmt.Errorf("stack %s: remove: %w", name, err)
		}
	}
	m.progress(name, "destroyed and removed")
	return nil
}

func stillThere(ctx context.Context, ws auto.Workspace, name string) bool {
	list, err := ws.ListStacks(ctx)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(list, func(s auto.StackSummary) bool { return s.Name == name })
}

// Reap destroys and removes every ephemeral stack past its expiry, or whose pull request is closed, and
// returns their names. Stacks that are not ephemeral are never touched.
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
		name := s.Name
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		cfg, err := ws.GetAllConfig(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("stack %s: %w", name, err))
			continue
		}
		why := m.reapReason(name, cfg, closedPRs)
		if why == "" {
			continue
		}
		m.progress(name, "reaping: %s", why)
		if err := m.Destroy(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		reaped = append(reaped, name)
	}
	return reaped, errors.Join(errs...)
}

// reapReason says why a stack is to be reaped, or "" to keep it.
func (m *Manager) reapReason(name string, cfg auto.ConfigMap, closedPRs []int) string {
	if cfg[stacks.Namespace+":environment"].Value != string(stacks.Ephemeral) {
		return ""
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(name, ReviewPrefix)); err == nil &&
		strings.HasPrefix(name, ReviewPrefix) && slices.Contains(closedPRs, n) {
		return fmt.Sprintf("pull request #%d is closed", n)
	}
	raw := cfg[stacks.Namespace+":expiresAt"].Value
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
