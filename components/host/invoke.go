package host

import (
	"runtime/debug"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// awsModule is the pulumi-aws SDK module; its version picks the provider plugin, as the SDK's own functions do.
const awsModule = "github.com/pulumi/pulumi-aws/sdk/v7"

var awsVersion = sync.OnceValue(func() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == awsModule {
				return strings.TrimPrefix(dep.Version, "v")
			}
		}
	}
	return ""
})

// invokeAWS calls a pulumi-aws function synchronously, like the SDK's plain functions (ssm.LookupParameter), and
// with the same provider version, but accepts a secret result. The provider marks SSM parameter values
// sensitive (the data sources' value and values attributes), so they come back as secrets, which the SDK's
// plain invoke refuses ("unexpected secret result returned to invoke call"); a readiness signal holds no
// secret, and the gate only compares it.
func invokeAWS(ctx *pulumi.Context, tok string, args, result any, opts ...pulumi.InvokeOption) error {
	if v := awsVersion(); v != "" {
		opts = append([]pulumi.InvokeOption{pulumi.Version(v)}, opts...)
	}
	_, err := ctx.InvokePackageRaw(tok, args, result, "", opts...)
	return err
}
