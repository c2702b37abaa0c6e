// Package imageref recognises container image references pinned by digest, the only form an appstack host
// runs, and names the registry that serves them.
package imageref

import (
	"regexp"
	"strings"
)

// The grammar of a reference, from distribution/reference (reference/regexp.go, the grammar Docker's CLI
// parses with): [domain/]path-component[/path-component...][:tag]@sha256:<64 hex>.
const (
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domain          = domainComponent + `(?:\.` + domainComponent + `)*(?::[0-9]+)?`
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	tag             = `[\w][\w.-]{0,127}`
)

var pinnedRE = regexp.MustCompile(`^(?:` + domain + `/)?` + pathComponent + `(?:/` + pathComponent + `)*` +
	`(?::` + tag + `)?@sha256:[0-9a-f]{64}$`)

// Pinned reports whether ref is [registry/]repository[:tag]@sha256:<64 lower-case hex>, well formed.
func Pinned(ref string) bool { return pinnedRE.MatchString(ref) }

// DockerHub is the registry of a reference that names none, as Docker resolves it.
const DockerHub = "docker.io"

// Registry is the registry host of a reference: its first component when that holds a '.' or a ':' or is
// localhost (distribution/reference's splitDockerDomain), otherwise Docker Hub.
func Registry(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return DockerHub
}
