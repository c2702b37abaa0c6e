// Package imageref recognises container image references pinned by digest, the only form an appstack host
// runs.
package imageref

import "regexp"

var pinnedRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$`)

// Pinned reports whether ref is <repository>@sha256:<64 lower-case hex>.
func Pinned(ref string) bool { return pinnedRE.MatchString(ref) }
