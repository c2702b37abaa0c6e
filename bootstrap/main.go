// Command bootstrap is the Pulumi program that creates what appstack's CI needs before its first run: an S3
// state bucket, a KMS key for stack secrets, the GitHub OIDC provider, and the read-only preview role and the
// deploy role that the workflows assume. Run it once per AWS account, from a laptop with admin credentials.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(Program)
}
