// Command policypack serves appstack's rules as a Pulumi policy pack, so that users' CI can enforce them on a
// real `pulumi preview` or `pulumi up`, with the waivers of the stack's appstack:waivers:
//
//	pulumi preview --policy-pack ./policypack
//
// stackctl runs it in every real preview and up.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func main() {
	err := policyx.Main(func(ctx *pulumi.Context) (policyx.PolicyPack, error) {
		waivers, err := StackWaivers(ctx.GetConfig)
		if err != nil {
			return nil, err
		}
		return Pack(waivers)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
