// Command appstack is the Pulumi program; infra.Program is all of it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/infra"
	"appstack/internal/rollout"
	"appstack/internal/rollout/awsclient"
)

func main() {
	// A fleet's rolling deploy calls Auto Scaling with the AWS SDK; only the program links its credential chain.
	rollout.NewAPI = awsclient.New
	pulumi.Run(infra.Program)
}
