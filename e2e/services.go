package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// ServicesKey is the config key the suite edits to make each version.
const ServicesKey = "appstack:services"

// HostingKey is the config key that chooses the hosting; the suite runs the fleet scenario when it is fleet.
const HostingKey = "appstack:hosting"

// The hostings -hosting accepts (stacks.Single and stacks.FleetHosting).
const (
	SingleHosting = "single"
	FleetHosting  = "fleet"
)

// VersionEnv is the environment variable whose change makes a new version of the first service: a changed env
// is a changed user-data, so a new host.
const VersionEnv = "E2E_VERSION"

// NeverReadyPath is the readyPath of the version that fails at step health: the sample service answers 404.
const NeverReadyPath = "/e2e-never-ready"

// Services is the appstack:services value, kept as generic JSON so that keys the suite does not edit survive.
type Services []map[string]any

// ParseServices reads the JSON value of appstack:services.
func ParseServices(raw string) (Services, error) {
	var s Services
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, fmt.Errorf("%s: want a JSON list of services: %w", ServicesKey, err)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("%s: no services", ServicesKey)
	}
	for i, svc := range s {
		if name, _ := svc["name"].(string); name == "" {
			return nil, fmt.Errorf("%s[%d].name: missing", ServicesKey, i)
		}
	}
	return s, nil
}

// JSON is the value to set.
func (s Services) JSON() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // unreachable: the value came from JSON
	}
	return string(b)
}

func (s Services) clone() Services {
	out, err := ParseServices(s.JSON())
	if err != nil {
		panic(err) // unreachable: s was parsed before
	}
	return out
}

// First is the first service's name, the one each version changes.
func (s Services) First() string { return s[0]["name"].(string) }

// WithVersion sets VersionEnv on the first service: a new version, on a new host.
func (s Services) WithVersion(version string) Services {
	out := s.clone()
	env, _ := out[0]["env"].(map[string]any)
	if env == nil {
		env = map[string]any{}
	}
	env[VersionEnv] = version
	out[0]["env"] = env
	return out
}

// MissingDigest is a digest no repository holds: the sha256 of a sentence, not of an image manifest.
func MissingDigest() string {
	sum := sha256.Sum256([]byte("appstack e2e: an image that was never pushed"))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Failing makes the first service fail its boot: with FailPull it is pinned to MissingDigest in repository (its
// ECR repository URL), with FailHealth its readyPath never answers.
func (s Services) Failing(mode, repository string) (Services, error) {
	out := s.clone()
	switch mode {
	case FailHealth:
		out[0]["readyPath"] = NeverReadyPath
	case FailPull:
		if repository == "" {
			return nil, fmt.Errorf("%s[0] (%s): no repository to pin a missing digest in", ServicesKey, s.First())
		}
		repository, _, _ = strings.Cut(repository, "@")
		delete(out[0], "build")
		out[0]["image"] = repository + "@" + MissingDigest()
	default:
		return nil, fmt.Errorf("unknown failure mode %q", mode)
	}
	return out, nil
}

// Pinned pins every service named in digests to its image (repository@sha256:...), dropping its build: the
// rollback by pinned digest.
func (s Services) Pinned(digests map[string]string) (Services, error) {
	out := s.clone()
	for i, svc := range out {
		name := svc["name"].(string)
		ref, ok := digests[name]
		if !ok {
			continue
		}
		if !strings.Contains(ref, "@sha256:") {
			return nil, fmt.Errorf("imageDigests[%s] = %q: not pinned by digest", name, ref)
		}
		delete(out[i], "build")
		out[i]["image"] = ref
	}
	return out, nil
}
