package stacks

import (
	"encoding/json"
	"fmt"
)

// WithoutAdoptions returns a copy of a stack's configuration (key to value as Pulumi passes it, lists as JSON)
// without the adoption keys, and the keys it dropped: what a review stack copies from its base stack, so that
// it creates its own resources instead. The adoption keys (tables[].adopt, services[].adoptRepository,
// adoptAddress) take over resources that already exist (pulumi import); a review stack that kept them would
// take over, retag and later hand back its base stack's table, repository or address.
func WithoutAdoptions(cfg map[string]string) (map[string]string, []string, error) {
	out := make(map[string]string, len(cfg))
	var dropped []string
	for k, v := range cfg {
		out[k] = v
	}
	if _, ok := out[key("adoptAddress")]; ok {
		delete(out, key("adoptAddress"))
		dropped = append(dropped, key("adoptAddress"))
	}
	for _, list := range []struct{ name, field string }{{"tables", "adopt"}, {"services", "adoptRepository"}} {
		raw, ok := out[key(list.name)]
		if !ok {
			continue
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &items); err != nil {
			return nil, nil, fmt.Errorf("%s: want a list: %w", key(list.name), err)
		}
		changed := false
		for i, item := range items {
			if _, ok := item[list.field]; ok {
				delete(item, list.field)
				dropped = append(dropped, key(list.name, i, list.field))
				changed = true
			}
		}
		if changed {
			b, err := json.Marshal(items)
			if err != nil {
				return nil, nil, err
			}
			out[key(list.name)] = string(b)
		}
	}
	return out, dropped, nil
}
