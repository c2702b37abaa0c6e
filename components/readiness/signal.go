package readiness

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The states a host's readiness signal can hold. The boot script writes Booting as soon as it knows its instance
// id, then Ready or Failed; the value always carries the fingerprint of what the host runs.
const (
	Booting = "booting"
	Ready   = "ready"
	Failed  = "failed"
)

// TimelineSteps are the boot's timed steps, in the order the boot runs them and the timeline prints them.
var TimelineSteps = []string{"install", "pull", "secret", "start", "health"}

// Step is one timed step of a boot: its name and how many whole seconds it took.
type Step struct {
	Name    string
	Seconds int
}

// Timeline is what a boot's steps took, in order; the boot script puts "total" (the whole boot) last.
type Timeline []Step

// Signal is the value of a host's readiness parameter, <prefix>/<instance id>:
//
//	booting <fingerprint>
//	ready <fingerprint> <timeline>
//	failed <fingerprint> <timeline> <step> <reason…>
//
// where <timeline> is one word, install=12,pull=8,…,total=43 (seconds), or "-" when no step was timed.
type Signal struct {
	// State is Booting, Ready or Failed.
	State string
	// Fingerprint identifies what the host runs (Fingerprint).
	Fingerprint string
	// Timeline is what each step took; set on Ready and Failed.
	Timeline Timeline
	// Step and Reason say where and why a boot failed; set on Failed.
	Step, Reason string
}

// String renders the signal as the boot script writes it.
func (s Signal) String() string {
	switch s.State {
	case Booting:
		return Booting + " " + s.Fingerprint
	case Ready:
		return Ready + " " + s.Fingerprint + " " + s.Timeline.word()
	}
	return fmt.Sprintf("%s %s %s %s %s", Failed, s.Fingerprint, s.Timeline.word(), s.Step, s.Reason)
}

var (
	fingerprintRE = regexp.MustCompile(`^sha256:[0-9a-f]{32}$`)
	stepRE        = regexp.MustCompile(`^[a-z]+$`)
)

// Parse reads a signal the boot script wrote. It fails on anything else, such as the bare fingerprint older
// boot scripts wrote.
func Parse(value string) (Signal, error) {
	f := strings.SplitN(strings.TrimSpace(value), " ", 5)
	bad := func(why string) (Signal, error) { return Signal{}, fmt.Errorf("readiness signal %q: %s", value, why) }
	if len(f) < 2 || !fingerprintRE.MatchString(f[1]) {
		return bad("want <state> <fingerprint> …")
	}
	s := Signal{State: f[0], Fingerprint: f[1]}
	switch {
	case s.State == Booting && len(f) == 2:
		return s, nil
	case s.State == Ready && len(f) == 3, s.State == Failed && len(f) >= 4:
		t, err := parseTimelineWord(f[2])
		if err != nil {
			return bad(err.Error())
		}
		s.Timeline = t
		if s.State == Failed {
			s.Step = f[3]
			if !stepRE.MatchString(s.Step) {
				return bad("the failed step is not a word")
			}
			if len(f) == 5 {
				s.Reason = f[4]
			}
		}
		return s, nil
	}
	return bad("want booting, ready or failed with their fields")
}

func (t Timeline) word() string {
	if len(t) == 0 {
		return "-"
	}
	parts := make([]string, len(t))
	for i, s := range t {
		parts[i] = s.Name + "=" + strconv.Itoa(s.Seconds)
	}
	return strings.Join(parts, ",")
}

func parseTimelineWord(w string) (Timeline, error) {
	if w == "-" {
		return nil, nil
	}
	var t Timeline
	for part := range strings.SplitSeq(w, ",") {
		name, secs, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(secs)
		if !ok || err != nil || n < 0 || !stepRE.MatchString(name) {
			return nil, fmt.Errorf("timeline entry %q: want <step>=<seconds>", part)
		}
		t = append(t, Step{name, n})
	}
	return t, nil
}

// Seconds returns the named step's seconds and whether the step ran.
func (t Timeline) Seconds(name string) (int, bool) {
	for _, s := range t {
		if s.Name == name {
			return s.Seconds, true
		}
	}
	return 0, false
}

// Line is the one line the gate prints for a boot, which `pulumi up` shows:
//
//	boot timeline i-0abc: install=12s pull=8s secret=1s start=2s health=20s total=43s
//
// Keys come in TimelineSteps order, then total; only the steps that ran.
func (t Timeline) Line(instanceID string) string {
	var b strings.Builder
	b.WriteString("boot timeline " + instanceID + ":")
	for _, name := range append(append([]string(nil), TimelineSteps...), "total") {
		if n, ok := t.Seconds(name); ok {
			fmt.Fprintf(&b, " %s=%ds", name, n)
		}
	}
	return b.String()
}

var lineRE = regexp.MustCompile(`^boot timeline (i-[0-9a-zA-Z-]+):((?: [a-z]+=\d+s)*)$`)

// ParseTimeline reads a line printed by Timeline.Line back: the instance id and the steps, in order.
func ParseTimeline(line string) (string, Timeline, error) {
	m := lineRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", nil, fmt.Errorf("not a boot timeline line: %q", line)
	}
	var t Timeline
	for f := range strings.FieldsSeq(m[2]) {
		name, secs, _ := strings.Cut(strings.TrimSuffix(f, "s"), "=")
		n, err := strconv.Atoi(secs)
		if err != nil {
			return "", nil, fmt.Errorf("boot timeline %q: %w", f, err)
		}
		t = append(t, Step{name, n})
	}
	return m[1], t, nil
}

// Attempt is the boot attempt a new host for fingerprint gets, given the stack's signals (parameter values under
// its ready/ path). Each boot of fingerprint that did not end ready left a signal, so a re-run after a failed
// boot gets a new number — a new user-data, and through userDataReplaceOnChange a fresh host — while after a
// success the count, and with it the serving host's user-data, stays the same. Signals of other fingerprints,
// and values that are no signal, do not count.
func Attempt(fingerprint string, values []string) int {
	n := 0
	for _, v := range values {
		if s, err := Parse(v); err == nil && s.Fingerprint == fingerprint && s.State != Ready {
			n++
		}
	}
	return n
}

// Serving says whether a host already runs fingerprint: one of the stack's signals is that fingerprint's ready
// signal. Then a deploy makes no new host, and nothing new joins a load balancer.
func Serving(fingerprint string, values []string) bool {
	for _, v := range values {
		if s, err := Parse(v); err == nil && s.Fingerprint == fingerprint && s.State == Ready {
			return true
		}
	}
	return false
}

type noSettleKey struct{}

// NoSettle is the key of a Pulumi context value (true) with which an offline run tells its hosts not to wait for a
// load balancer's health checks: the mocks model no load balancer timing (host.Args.HealthySettle).
var NoSettle any = noSettleKey{}
