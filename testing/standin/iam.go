package main

import (
	"os"
	"strings"
)

// missingFromEnv are the IAM policies (by ARN) and roles (by name) the stand-in's account lacks, from
// APPSTACK_STANDIN_MISSING (a comma separated list), as in an account the bootstrap has not run in: their
// lookups get the provider's not-found error (offline.Mocks.Missing). Unset, every one asked for exists.
func missingFromEnv() []string {
	var missing []string
	for _, v := range strings.Split(os.Getenv("APPSTACK_STANDIN_MISSING"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			missing = append(missing, v)
		}
	}
	return missing
}
