// Package tags builds the tag maps every appstack component puts on its taggable children.
package tags

import (
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// With returns base plus a Name tag, the label the AWS console shows.
func With(base map[string]string, name string) pulumi.StringMap {
	out := pulumi.StringMap{}
	for k, v := range maps.All(base) {
		out[k] = pulumi.String(v)
	}
	out["Name"] = pulumi.String(name)
	return out
}
