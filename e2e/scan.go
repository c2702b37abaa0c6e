package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go"
)

// StackTag is the tag key every taggable resource of a stack carries with the stack's name (infra/appstack).
const StackTag = "stack"

// TagClient is the one Resource Groups Tagging API call the scan makes; *resourcegroupstaggingapi.Client has it.
type TagClient interface {
	GetResources(ctx context.Context, in *rgt.GetResourcesInput, opts ...func(*rgt.Options)) (*rgt.GetResourcesOutput, error)
}

// StateReader asks the owning service about a resource the tagging API still lists, because that API goes on
// listing some deleted resources for a while (terminated instances for about an hour, deleted volumes) and
// lists KMS keys that are only scheduled for deletion. Each method returns "" when the service does not know
// the resource.
type StateReader interface {
	// InstanceState is the EC2 instance's state name (running, terminated, ...).
	InstanceState(ctx context.Context, id string) (string, error)
	// VolumeState is the EBS volume's state (in-use, deleting, deleted, ...).
	VolumeState(ctx context.Context, id string) (string, error)
	// KeyState is the KMS key's state (Enabled, PendingDeletion, ...).
	KeyState(ctx context.Context, id string) (string, error)
}

// NotFound is true for the error codes EC2 and KMS answer for a resource they do not know: a StateReader
// reports those as "" (gone), and every other error as an error, which leaves the resource counted as left.
func NotFound(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "InvalidInstanceID.NotFound", "InvalidVolume.NotFound", "NotFoundException":
		return true
	}
	return false
}

// ParameterLister lists SSM parameter names under a path, recursively. The readiness signals a host writes
// itself carry no tags, so the tagging API cannot see them.
type ParameterLister interface {
	Parameters(ctx context.Context, path string) ([]string, error)
}

// Leftover is a resource of a destroyed stack that still exists.
type Leftover struct {
	// ARN names it (an SSM parameter by its name).
	ARN string
	// Why says what the scan found out about it.
	Why string
}

func (l Leftover) String() string { return l.ARN + " (" + l.Why + ")" }

// Scanner finds what a destroyed stack left behind.
type Scanner struct {
	Tags   TagClient
	States StateReader
	// Params lists untagged SSM parameters under the stack's path. Optional.
	Params ParameterLister
	// ParamPath is the stack's SSM path, /<project>/<stack>/. Required with Params.
	ParamPath string
	// Log receives one line per scan. Optional.
	Log io.Writer
}

// Scan lists every resource tagged stack=<stack> (all pages) and keeps those that still exist: the ones whose
// own service says they are gone (a terminated instance, a deleted volume) or scheduled to go (a KMS key pending
// deletion) are not leftovers. Parameters under ParamPath are leftovers too.
func (s Scanner) Scan(ctx context.Context, stack string) ([]Leftover, []string, error) {
	var token *string
	var leftovers []Leftover
	var gone []string
	seen := map[string]bool{}
	for page := 1; ; page++ {
		out, err := s.Tags.GetResources(ctx, &rgt.GetResourcesInput{
			TagFilters:       []rgttypes.TagFilter{{Key: aws.String(StackTag), Values: []string{stack}}},
			ResourcesPerPage: aws.Int32(100),
			PaginationToken:  token,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("tagging API GetResources (page %d): %w", page, err)
		}
		for _, m := range out.ResourceTagMappingList {
			arn := aws.ToString(m.ResourceARN)
			if arn == "" || seen[arn] {
				continue
			}
			seen[arn] = true
			why, isGone := s.classify(ctx, arn)
			if isGone {
				gone = append(gone, arn+" ("+why+")")
				continue
			}
			leftovers = append(leftovers, Leftover{ARN: arn, Why: why})
		}
		next := aws.ToString(out.PaginationToken)
		if next == "" {
			break
		}
		if next == aws.ToString(token) {
			return nil, nil, fmt.Errorf("tagging API GetResources (page %d): the same pagination token again", page)
		}
		token = aws.String(next)
	}
	if s.Params != nil {
		names, err := s.Params.Parameters(ctx, s.ParamPath)
		if err != nil {
			return nil, nil, fmt.Errorf("SSM parameters under %s: %w", s.ParamPath, err)
		}
		for _, n := range names {
			leftovers = append(leftovers, Leftover{ARN: n, Why: "an SSM parameter under the stack's path (untagged, " +
				"so the tagging API cannot see it)"})
		}
	}
	slices.SortFunc(leftovers, func(a, b Leftover) int { return strings.Compare(a.ARN, b.ARN) })
	return leftovers, gone, nil
}

// classify asks the owning service about a listed resource: gone (with why) or still there (with why).
func (s Scanner) classify(ctx context.Context, arn string) (string, bool) {
	service, resource := arnParts(arn)
	kind, id, _ := strings.Cut(resource, "/")
	var state string
	var err error
	switch {
	case service == "ec2" && kind == "instance":
		state, err = s.States.InstanceState(ctx, id)
		if err == nil && (state == "" || state == "terminated") {
			return "terminated: the tagging API lists terminated instances for about an hour", true
		}
	case service == "ec2" && kind == "volume":
		state, err = s.States.VolumeState(ctx, id)
		if err == nil && (state == "" || state == "deleted") {
			return "deleted: the tagging API can list deleted volumes for a while", true
		}
	case service == "kms" && kind == "key":
		state, err = s.States.KeyState(ctx, id)
		if err == nil && (state == "" || state == "PendingDeletion") {
			return "scheduled for deletion: KMS keeps a key for its waiting period", true
		}
	default:
		return "still tagged with the stack", false
	}
	if err != nil {
		return "its state cannot be read: " + err.Error(), false
	}
	return "state " + state, false
}

// arnParts returns an ARN's service and resource parts: arn:partition:service:region:account:resource.
func arnParts(arn string) (service, resource string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "", arn
	}
	return parts[2], parts[5]
}

// WaitClean scans until nothing is left or wait has passed, since the tagging API can lag behind deletes.
// It returns an error naming every leftover of the last scan.
func (s Scanner) WaitClean(ctx context.Context, stack string, wait, every time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		leftovers, gone, err := s.Scan(ctx, stack)
		if err != nil {
			return err
		}
		if s.Log != nil {
			fmt.Fprintf(s.Log, "e2e: leftover scan of stack=%s: %d left, %d listed but gone\n", stack,
				len(leftovers), len(gone))
			for _, g := range gone {
				fmt.Fprintf(s.Log, "  gone: %s\n", g)
			}
		}
		if len(leftovers) == 0 {
			return nil
		}
		if !time.Now().Add(every).Before(deadline) {
			var names []string
			for _, l := range leftovers {
				names = append(names, "  "+l.String())
			}
			return fmt.Errorf("destroy left %d resource(s) of stack %s behind:\n%s", len(leftovers), stack,
				strings.Join(names, "\n"))
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("leftover scan of %s interrupted", stack))
		case <-time.After(every):
		}
	}
}
