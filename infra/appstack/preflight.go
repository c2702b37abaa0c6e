package appstack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/identity"
	"appstack/stacks"
)

// EventsServiceLinkedRoleName is the service-linked role with which CloudWatch performs a host's recover and
// reboot alarm actions; PutMetricAlarm of an alarm with an EC2 action needs it to exist
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-service-linked-roles.html). The bootstrap
// creates it.
const EventsServiceLinkedRoleName = "AWSServiceRoleForCloudWatchEvents"

// BootstrapCommand is what makes the permissions boundary and the service-linked roles a stack needs: the
// bootstrap's up, once per account (README, "First deploy, in this order").
const BootstrapCommand = "pulumi -C bootstrap up"

// checkAccount looks up, through the provider and before anything is registered, what the bootstrap makes and
// the stack cannot deploy without: the permissions boundary every host role carries (IAM refuses CreateRole
// with a boundary that does not exist) and the service-linked role of the hosts' alarms (a single host) or of
// Auto Scaling (a fleet, whose alarm topic's key policy names it). Everything missing is named in one error,
// with the command that creates it. A lookup the deploy's identity may not make (a CI role of a bootstrap that
// predates these checks has no iam:GetPolicy) proves nothing either way and is passed over: such a role exists
// only because the bootstrap ran.
func checkAccount(ctx *pulumi.Context, cfg *stacks.Config) error {
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return fmt.Errorf("reading the deploy's account (sts:GetCallerIdentity): %w", err)
	}
	boundary := cfg.PermissionsBoundary
	what := "the permissions boundary policy " + boundary + " (" + stacks.Namespace + ":permissionsBoundary)"
	if boundary == "" {
		if boundary, err = identity.DefaultBoundaryArn(caller.Arn); err != nil {
			return err
		}
		what = "the permissions boundary policy " + boundary + ", which every host role carries"
	}
	var missing []string
	lookup := func(what string, err error) {
		switch {
		case err == nil:
		case notFound(err):
			missing = append(missing, what)
		default:
			// A lost line is no failure.
			_ = ctx.Log.Debug(fmt.Sprintf("not checked that the account has %s: %v", what, err), nil)
		}
	}
	_, err = iam.LookupPolicy(ctx, &iam.LookupPolicyArgs{Arn: pulumi.StringRef(boundary)})
	lookup(what, err)
	role, why := EventsServiceLinkedRoleName, "with which CloudWatch runs the host's recover and reboot alarms"
	if cfg.IsFleet() {
		role, why = identity.AutoScalingServiceLinkedRoleName, "with which Auto Scaling launches the fleet's "+
			"hosts and publishes its notifications"
	}
	_, err = iam.LookupRole(ctx, &iam.LookupRoleArgs{Name: role})
	lookup("the service-linked role "+role+" ("+why+")", err)
	if len(missing) > 0 {
		return fmt.Errorf("account %s has not been bootstrapped: it lacks %s. Run the bootstrap once per account "+
			"first, with admin credentials: %s (README, \"First deploy, in this order\")", caller.AccountId,
			strings.Join(missing, ", and "), BootstrapCommand)
	}
	return nil
}

// notFound recognises the provider's answer for an IAM entity that does not exist: IAM's NoSuchEntity error
// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetPolicy.html#API_GetPolicy_Errors), which
// terraform-provider-aws reports as "couldn't find resource" (internal/service/iam/policy_data_source.go,
// findPolicyByARN; role_data_source.go, findRoleByName).
func notFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "NoSuchEntity") || strings.Contains(msg, "couldn't find resource")
}
