// Command bootstrap is the Pulumi program that creates what appstack's CI needs before its first run: an S3
// state bucket and its key, a KMS secrets key per environment, the GitHub OIDC provider, one role per GitHub
// environment and the pull-request preview role, the permissions boundary of the host roles appstack stacks
// create, and the service-linked roles the hosts' alarms (CloudWatch Events) and fleets (Auto Scaling) need. Run
// it once per AWS account, from a laptop with admin credentials.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(Program)
}
