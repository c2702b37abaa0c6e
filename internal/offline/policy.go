package offline

import (
	"encoding/json"
	"fmt"
	"strings"
)

// policySummary renders an IAM policy document compactly: each statement's actions on its resources.
func policySummary(doc string) string {
	var p struct {
		Statement []struct {
			Sid       string
			Principal any
			Action    any
			Resource  any
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return fmt.Sprintf("<%d bytes>", len(doc))
	}
	var parts []string
	for _, s := range p.Statement {
		switch {
		case s.Principal != nil:
			parts = append(parts, fmt.Sprintf("trust %v", flat(s.Principal)))
		default:
			parts = append(parts, fmt.Sprintf("%s{%s on %s}", s.Sid, flat(s.Action), flat(s.Resource)))
		}
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func flat(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		s := make([]string, len(t))
		for i, x := range t {
			s[i] = flat(x)
		}
		return strings.Join(s, ",")
	case map[string]any:
		var s []string
		for k, x := range t {
			s = append(s, k+":"+flat(x))
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}
