package policy

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Resource is one resource as the rules judge it: what a stack declares for it (type, name, inputs, options) and
// the few outputs a rule matches other resources by. The offline preview converts the mocks' record of a
// registration to it (internal/offline), the policy pack converts what the engine hands a policy (policypack),
// so the program that links the rules links neither.
type Resource struct {
	// Type is the resource's type token, such as aws:ec2/instance:Instance.
	Type string
	// Name is the resource's logical name.
	Name string
	// URN is the resource's URN; it names its parents' types.
	URN string
	// Parent is the parent's URN; the stack's for a top-level resource, empty where the engine leaves it out.
	Parent string
	// Inputs are the resource's inputs as the program declared them.
	Inputs resource.PropertyMap
	// Outputs are the resource's outputs where known (a repository's name, a target group's ARN); nil in the
	// policy pack, which sees inputs only.
	Outputs resource.PropertyMap
	// Protect is the protect resource option.
	Protect bool
	// RetainOnDelete is the retainOnDelete resource option.
	RetainOnDelete bool
	// Import is the id of the existing resource the program adopts (pulumi import), or "".
	Import string
}

// Lookup finds a property by a path such as "rootBlockDevice.encrypted" or "rules[0].port", looking through
// secrets on the way.
func Lookup(pm resource.PropertyMap, path string) (resource.PropertyValue, bool) {
	cur := resource.NewObjectProperty(pm)
	for _, part := range strings.Split(path, ".") {
		name, index, hasIndex := strings.Cut(part, "[")
		cur = unwrap(cur)
		if !cur.IsObject() {
			return resource.PropertyValue{}, false
		}
		next, ok := cur.ObjectValue()[resource.PropertyKey(name)]
		if !ok || next.IsNull() {
			return resource.PropertyValue{}, false
		}
		cur = next
		if hasIndex {
			i, err := strconv.Atoi(strings.TrimSuffix(index, "]"))
			cur = unwrap(cur)
			if err != nil || !cur.IsArray() || i >= len(cur.ArrayValue()) {
				return resource.PropertyValue{}, false
			}
			cur = cur.ArrayValue()[i]
		}
	}
	return cur, true
}

// unwrap looks through a secret to the value inside, for navigation only.
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return v.SecretValue().Element
	}
	return v
}
