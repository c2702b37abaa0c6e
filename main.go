// Command appstack is the Pulumi program; infra.Program is all of it.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/infra"
	"appstack/internal/rollout"
	"appstack/internal/rollout/awsclient"
	"appstack/internal/targethealth"
)

func main() {
	// A fleet's rolling deploy calls Auto Scaling with the AWS SDK; only the program links its credential chain.
	rollout.NewAPI = awsclient.New
	// A single host's deploy reads its new target's health from Elastic Load Balancing before the old one goes.
	targethealth.NewAPI = awsclient.NewTargetHealth
	// A fleet's deploy reads its hosts' readiness signals in bounded pages, and prunes those of terminated hosts.
	rollout.NewSignalStore = awsclient.NewSignalStore
	pulumi.Run(infra.Program)
}
