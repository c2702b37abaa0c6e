package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"appstack/components/imageref"
	"appstack/stacks"
)

// PlainOutputs turns stack outputs into plain JSON values, each secret replaced by "[secret]".
func PlainOutputs(outputs auto.OutputMap) map[string]any {
	plain := map[string]any{}
	for k, v := range outputs {
		if v.Secret {
			plain[k] = "[secret]"
		} else {
			plain[k] = v.Value
		}
	}
	return plain
}

// WriteOutputs writes outputs to path as indented JSON (secrets replaced by "[secret]").
func WriteOutputs(path string, outputs auto.OutputMap) error {
	raw, err := json.MarshalIndent(PlainOutputs(outputs), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o600)
}

// Outputs reads a stack's current outputs from its last deployment (no program runs): recorded before an up,
// they are what Rollback returns to.
func (m *Manager) Outputs(ctx context.Context, name string) (auto.OutputMap, error) {
	ws, err := m.workspace(ctx)
	if err != nil {
		return nil, err
	}
	explain := m.secretsBefore(name)
	st, err := auto.SelectStack(ctx, name, ws)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", name, err)
	}
	out, err := st.Outputs(ctx)
	if err != nil {
		return nil, explain("reading its outputs", err)
	}
	m.progress(name, "read %d outputs from its last deployment", len(out))
	return out, nil
}

// ReadDigests reads the imageDigests output (service → repository@sha256:… reference) from an outputs file that
// Outputs or an up wrote. Every reference must be pinned by digest.
func ReadDigests(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out struct {
		ImageDigests map[string]string `json:"imageDigests"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("outputs file %s: imageDigests: %w", path, err)
	}
	if len(out.ImageDigests) == 0 {
		return nil, fmt.Errorf("outputs file %s: no imageDigests output to roll back to", path)
	}
	for svc, ref := range out.ImageDigests {
		if !imageref.Pinned(ref) {
			return nil, fmt.Errorf("outputs file %s: imageDigests.%s: %q is not pinned by digest "+
				"(repository@sha256:<64 hex>)", path, svc, ref)
		}
	}
	return out.ImageDigests, nil
}

// Rollback redeploys the image digests recorded in an outputs file: each service of the stack is pinned to its
// recorded reference (`image:` instead of `build:`) in this runner's copy of the stack file — the checkout's
// file is not edited — and the stack is brought up. The blue/green switch applies as on any deploy: the address
// moves only to a host that answered its readiness gate on the recorded images.
func (m *Manager) Rollback(ctx context.Context, name, outputsFile string, opts ...optup.Option) (auto.UpResult,
	error,
) {
	digests, err := ReadDigests(outputsFile)
	if err != nil {
		return auto.UpResult{}, err
	}
	if err := m.ready(name); err != nil {
		return auto.UpResult{}, err
	}
	dir, err := m.ProjectDir()
	if err != nil {
		return auto.UpResult{}, err
	}
	f, err := ReadStackConfig(dir, name)
	if err != nil {
		return auto.UpResult{}, fmt.Errorf("stack %s: %w", name, err)
	}
	key := stacks.Namespace + ":services"
	var services []map[string]any
	if err := json.Unmarshal([]byte(f.Config[key]), &services); err != nil {
		return auto.UpResult{}, fmt.Errorf("stack %s: %s: %w", name, key, err)
	}
	var missing []string
	for _, svc := range services {
		if _, ok := digests[fmt.Sprint(svc["name"])]; !ok {
			missing = append(missing, fmt.Sprint(svc["name"]))
		}
	}
	if len(missing) > 0 {
		return auto.UpResult{}, fmt.Errorf("stack %s: no recorded digest in %s for service(s) %s (recorded: %s): "+
			"cannot roll them back", name, outputsFile, strings.Join(missing, ", "),
			strings.Join(slices.Sorted(maps.Keys(digests)), ", "))
	}
	for _, svc := range services {
		ref := digests[fmt.Sprint(svc["name"])]
		svc["image"] = ref
		delete(svc, "build")
		m.progress(name, "rollback: service %s pinned to %s", svc["name"], ref)
	}
	pinned, err := json.Marshal(services)
	if err != nil {
		return auto.UpResult{}, err
	}
	explain := m.secretsBefore(name)
	st, err := m.Stack(ctx, name)
	if err != nil {
		return auto.UpResult{}, fmt.Errorf("stack %s: %w", name, err)
	}
	if err := st.SetConfig(ctx, key, auto.ConfigValue{Value: string(pinned)}); err != nil {
		return auto.UpResult{}, explain("pinning "+key, err)
	}
	return m.Up(ctx, name, opts...)
}

// ErrDrift reports that a refresh found the stack's resources differ from its state.
var ErrDrift = fmt.Errorf("drift: the resources differ from the stack's state")

// Drift runs a refresh preview (pulumi refresh --preview-only: nothing is written) and writes its diff to path.
// It returns ErrDrift (wrapped) when the refresh would change anything, nil when every resource is the same.
func (m *Manager) Drift(ctx context.Context, name, path string) error {
	if err := m.ready(name); err != nil {
		return err
	}
	ws, err := m.workspace(ctx)
	if err != nil {
		return err
	}
	explain := m.secretsBefore(name)
	st, err := auto.SelectStack(ctx, name, ws)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	m.progress(name, "pulumi refresh --preview-only --diff > %s", path)
	res, err := st.PreviewRefresh(ctx, optrefresh.Diff(), optrefresh.ProgressStreams(f))
	if closeErr := f.Close(); err == nil && closeErr != nil {
		return closeErr
	}
	if err != nil {
		return explain("refresh preview", err)
	}
	if changed := Drifted(res.ChangeSummary); len(changed) > 0 {
		return fmt.Errorf("stack %s: %w (%s; the diff is in %s)", name, ErrDrift, strings.Join(changed, ", "), path)
	}
	m.progress(name, "no drift")
	return nil
}

// Drifted lists the operations other than "same" that a refresh preview counted. The engine counts a refresh
// step by its result (pulumi/pulumi v3.200.0, pkg/engine/update.go records RefreshStep.ResultOp(): same, update
// for a changed resource, delete for a vanished one), so anything but "same" is drift.
func Drifted(summary map[apitype.OpType]int) []string {
	var out []string
	for _, op := range slices.Sorted(maps.Keys(summary)) {
		if op != apitype.OpSame && summary[op] > 0 {
			out = append(out, fmt.Sprintf("%d %s", summary[op], op))
		}
	}
	return out
}
