// Package tags builds the tag maps every appstack component puts on its taggable children.
package tags

import (
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Required are the tag keys every taggable resource carries, so that cost reports and clean-up scripts can
// find everything a stack made.
var Required = []string{"app", "environment", "stack", "managed-by"}

// With returns base plus a Name tag, the label the AWS console shows.
func With(base map[string]string, name string) pulumi.StringMap {
	out := pulumi.StringMap{}
	for k, v := range maps.All(base) {
		out[k] = pulumi.String(v)
	}
	out["Name"] = pulumi.String(name)
	return out
}
