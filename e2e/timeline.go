package e2e

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The resource types whose steps mark a deploy's milestones.
const (
	// InstanceType is the host: its create is a new host, its delete the old (or a failed) one going away.
	InstanceType = "aws:ec2/instance:Instance"
	// AssociationType is the Elastic IP association: its update (or create) is the switch of traffic.
	AssociationType = "aws:ec2/eipAssociation:EipAssociation"
)

// Event is one thing that happened during a deploy, as read from the Pulumi engine's event stream.
type Event struct {
	// At is when the event arrived.
	At time.Time
	// Type, Op and URN describe a resource step that finished (Pulumi type token; create, update, replace,
	// create-replacement, delete, delete-replaced, ...). Empty for a message.
	Type, Op, URN string
	// Failed marks a resource step that failed.
	Failed bool
	// Message is a line the deploy printed (a diagnostic such as the boot timeline, or an error).
	Message string
}

// Step is one step of a boot and how long it took.
type Step struct {
	Name string
	Took time.Duration
}

// BootTimeline is the boot's own account of its steps, which the deploy prints as one line:
// `boot timeline <instance-id>: install=12s pull=8s secret=1s start=2s health=20s total=43s`.
type BootTimeline struct {
	InstanceID string
	// Steps are the step durations in the order printed, total excluded.
	Steps []Step
	// Total is the boot's own total.
	Total time.Duration
}

func (b BootTimeline) String() string {
	var parts []string
	for _, s := range b.Steps {
		parts = append(parts, fmt.Sprintf("%s=%s", s.Name, s.Took))
	}
	parts = append(parts, fmt.Sprintf("total=%s", b.Total))
	return fmt.Sprintf("boot timeline %s: %s", b.InstanceID, strings.Join(parts, " "))
}

// rolloutLine is a line of the fleet's rollout (components/rollout logs `group <name>: ...`).
var rolloutLine = regexp.MustCompile(`^\s*group \S+: `)

var bootLine = regexp.MustCompile(`boot timeline (i-[0-9a-f]{8,17}): ((?:[a-z]+=[^\s]+)(?: +[a-z]+=[^\s]+)*)`)

// ParseBootTimeline finds a boot timeline in a line of deploy output. ok is false when the line has none; err
// says what is wrong with one that is malformed (a duration that does not parse, no total).
func ParseBootTimeline(line string) (b BootTimeline, ok bool, err error) {
	m := bootLine.FindStringSubmatch(line)
	if m == nil {
		return BootTimeline{}, false, nil
	}
	b.InstanceID = m[1]
	haveTotal := false
	for _, field := range strings.Fields(m[2]) {
		name, value, _ := strings.Cut(field, "=")
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return BootTimeline{}, true, fmt.Errorf("boot timeline %s: %s=%q is not a duration", b.InstanceID, name, value)
		}
		if name == "total" {
			b.Total, haveTotal = d, true
			continue
		}
		b.Steps = append(b.Steps, Step{name, d})
	}
	if !haveTotal {
		return BootTimeline{}, true, fmt.Errorf("boot timeline %s: no total", b.InstanceID)
	}
	return b, true, nil
}

// Timeline records one deploy: from `pulumi up` start, through the hosts it booted, to the switch of traffic.
// Add is safe to call from the goroutine that reads the engine's events.
type Timeline struct {
	// Label names the deploy, such as "new version".
	Label string
	// Start is when `pulumi up` started; End when it returned.
	Start, End time.Time
	// Err is what `pulumi up` returned.
	Err error
	// Fleet marks a fleet's deploy: an instance refresh of the group replaces the hosts behind the front door, so
	// there is no address to switch; the rollout's progress lines (`group <name>: ...`) are the milestones.
	Fleet bool

	mu     sync.Mutex
	events []Event
}

// Add records an event.
func (t *Timeline) Add(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, e)
}

// Events returns the recorded events in arrival order.
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.events)
}

// Boots returns each booted host's timeline, once per instance, and the malformed timeline lines.
func (t *Timeline) Boots() ([]BootTimeline, []error) {
	var out []BootTimeline
	var errs []error
	for _, e := range t.Events() {
		b, ok, err := ParseBootTimeline(e.Message)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok && !slices.ContainsFunc(out, func(o BootTimeline) bool { return o.InstanceID == b.InstanceID }):
			out = append(out, b)
		}
	}
	return out, errs
}

// Switch returns when the address moved to a new host, if it did.
func (t *Timeline) Switch() (time.Time, bool) {
	for _, e := range t.Events() {
		if e.Type == AssociationType && !e.Failed && slices.Contains([]string{"create", "update", "replace",
			"create-replacement"}, e.Op) {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// Print writes the timeline: each milestone with its offset from the start of `pulumi up`, then a summary.
func (t *Timeline) Print(w io.Writer) {
	at := func(when time.Time) string { return "+" + when.Sub(t.Start).Round(time.Second).String() }
	fmt.Fprintf(w, "timeline of deploy %q (pulumi up started %s):\n", t.Label, t.Start.UTC().Format(time.TimeOnly))
	fmt.Fprintf(w, "  %-8s pulumi up started\n", at(t.Start))
	seen := map[string]bool{}
	for _, e := range t.Events() {
		switch {
		case e.Message != "":
			if b, ok, err := ParseBootTimeline(e.Message); ok && err == nil && !seen[b.InstanceID] {
				seen[b.InstanceID] = true
				fmt.Fprintf(w, "  %-8s %s\n", at(e.At), b)
			} else if t.Fleet && rolloutLine.MatchString(e.Message) {
				fmt.Fprintf(w, "  %-8s %s\n", at(e.At), strings.TrimSpace(e.Message))
			}
		case e.Failed:
			fmt.Fprintf(w, "  %-8s %s %s failed\n", at(e.At), e.Type, e.Op)
		case e.Type == InstanceType && (e.Op == "create" || e.Op == "create-replacement"):
			fmt.Fprintf(w, "  %-8s new host created (%s)\n", at(e.At), e.Op)
		case e.Type == AssociationType && e.Op != "same" && e.Op != "delete" && e.Op != "delete-replaced":
			fmt.Fprintf(w, "  %-8s address switched to the new host (%s %s)\n", at(e.At), AssociationType, e.Op)
		case e.Type == InstanceType && (e.Op == "delete" || e.Op == "delete-replaced" || e.Op == "discard-replaced"):
			fmt.Fprintf(w, "  %-8s a previous host deleted (%s)\n", at(e.At), e.Op)
		}
	}
	result := "ok"
	if t.Err != nil {
		result = "failed"
	}
	fmt.Fprintf(w, "  %-8s pulumi up finished: %s\n", at(t.End), result)
	boots, errs := t.Boots()
	for _, err := range errs {
		fmt.Fprintf(w, "  malformed: %v\n", err)
	}
	if t.Fleet {
		fmt.Fprintln(w, "  a rolling deploy: the group's instance refresh replaces the hosts behind the front door")
		return
	}
	if when, ok := t.Switch(); ok {
		fmt.Fprintf(w, "  pulumi up start to switch: %s", when.Sub(t.Start).Round(time.Second))
		if len(boots) > 0 {
			last := boots[len(boots)-1]
			fmt.Fprintf(w, "; the boot itself (%s): %s", last.InstanceID, last.Total)
		}
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintln(w, "  no switch: the address stayed on the host it was on")
}
