package readiness

import (
	"fmt"
	"path"
	"strings"
)

// The modelled boot that the offline mocks and the test stand-ins share: how a boot ended becomes the signal the
// boot script would have written, and the signal lands in a parameter store as the script puts it there.

// ModelledSignal is the readiness parameter's value after a boot of fingerprint that ended as outcome: "ready",
// "failed <step> <reason…>", "booting" (it never finishes) or "silent" (it never signals; false).
func ModelledSignal(outcome, fingerprint string) (string, bool, error) {
	word, rest, _ := strings.Cut(strings.TrimSpace(outcome), " ")
	full := Timeline{{Name: "install", Seconds: 12}, {Name: "pull", Seconds: 8}, {Name: "secret", Seconds: 1},
		{Name: "start", Seconds: 2}, {Name: "health", Seconds: 20}}
	s := Signal{State: word, Fingerprint: fingerprint}
	switch word {
	case Ready:
		s.Timeline = append(full, Step{Name: "total", Seconds: 43})
	case Failed:
		s.Step, s.Reason, _ = strings.Cut(rest, " ")
		total := 0
		for _, st := range full {
			if st.Name == s.Step {
				break
			}
			s.Timeline = append(s.Timeline, st)
			total += st.Seconds
		}
		s.Timeline = append(s.Timeline, Step{Name: "total", Seconds: total + 1})
		if s.Step == "" {
			return "", false, fmt.Errorf("boot outcome %q: want failed <step> <reason>", outcome)
		}
	case Booting:
	case "silent":
		return "", false, nil
	default:
		return "", false, fmt.Errorf("boot outcome %q: want ready, failed <step> <reason>, booting or silent", outcome)
	}
	return s.String(), true, nil
}

// RecordSignal puts a host's signal into params as the boot script does: at <prefix>/<instance id>, and once it is
// ready, the other fingerprints' signals under the prefix are deleted.
func RecordSignal(params map[string]string, prefix, instanceID, fingerprint, value string) {
	name := prefix + "/" + instanceID
	params[name] = value
	if strings.HasPrefix(value, Ready+" ") {
		for other, v := range params {
			if path.Dir(other) == prefix && other != name && !strings.Contains(v, " "+fingerprint) {
				delete(params, other)
			}
		}
	}
}
