package appstack

import (
	"fmt"

	"appstack/stacks"
)

// fixedChildren are the suffixes of the children New names whatever the configuration: <name>-logs, …
var fixedChildren = []string{"logs", "secrets", "alarms", "alarms-email", "identity", "network", "host", "fleet",
	"frontdoor"}

// NameClashes names each table and service whose component would share its name with another child of the
// app: a table named like a service (both app-<name>, a Table and a Registry), a service named like another's
// image (<service>-image), or a name that is one of the fixed children's (logs, secrets, host, …). Their types
// differ, so pulumi keeps them apart, but the preview tree and `pulumi stack` show one name twice. They are
// warnings, not errors: renaming a deployed table or service replaces it, so only a new one should take
// another name.
func NameClashes(cfg *stacks.Config) []string {
	owner := map[string]string{}
	for _, f := range fixedChildren {
		owner[f] = "the app's own " + f + " component"
	}
	var warnings []string
	claim := func(suffix, key, what string) {
		if other, ok := owner[suffix]; ok {
			warnings = append(warnings, fmt.Sprintf("%s: %s is named <app>-%s, as %s: the preview and pulumi "+
				"stack show the name twice; give a new one another name (renaming a deployed one replaces it)",
				key, what, suffix, other))
			return
		}
		owner[suffix] = what + " (" + key + ")"
	}
	for i, s := range cfg.Services {
		claim(s.Name, fmt.Sprintf("%s:services[%d].name", stacks.Namespace, i), "service "+s.Name+"'s registry")
	}
	for i, s := range cfg.Services {
		if s.Build != nil {
			claim(s.Name+"-image", fmt.Sprintf("%s:services[%d].name", stacks.Namespace, i),
				"service "+s.Name+"'s image")
		}
	}
	for i, t := range cfg.Tables {
		claim(t.Name, fmt.Sprintf("%s:tables[%d].name", stacks.Namespace, i), "table "+t.Name)
	}
	return warnings
}
