package stacks

// CIDeployRoles maps the name of each bootstrap CI role that only previews stacks to the role that deploys the
// same stacks; both live under /appstack/ (identity.Path). The stack key's policy names the deploying role, so
// that a preview or drift check by the preview role shows no change to it. The bootstrap's tests check it against
// its role specs. It is this repository's convention, so the program passes it to the library (secrets.Args).
var CIDeployRoles = map[string]string{
	"appstack-ci-pr-preview":         "appstack-ci-staging",
	"appstack-ci-production-preview": "appstack-ci-production",
	"appstack-ci-drift":              "appstack-ci-production",
}
