// Command appstack is the Pulumi program; infra.Program is all of it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/infra"
)

func main() {
	pulumi.Run(infra.Program)
}
