package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTags answers GetResources the way the tagging API does: at most ResourcesPerPage (1-100) resources per
// page, a PaginationToken while more remain, only resources matching every TagFilter, and an error for a token
// it did not hand out.
type fakeTags struct {
	resources []rgttypes.ResourceTagMapping
	calls     []*rgt.GetResourcesInput
}

func (f *fakeTags) GetResources(_ context.Context, in *rgt.GetResourcesInput, _ ...func(*rgt.Options)) (*rgt.GetResourcesOutput, error) {
	f.calls = append(f.calls, in)
	per := int(aws.ToInt32(in.ResourcesPerPage))
	if per < 1 || per > 100 {
		return nil, errors.New("InvalidParameterException: ResourcesPerPage must be between 1 and 100")
	}
	var match []rgttypes.ResourceTagMapping
	for _, r := range f.resources {
		if matches(r, in.TagFilters) {
			match = append(match, r)
		}
	}
	start := 0
	if tok := aws.ToString(in.PaginationToken); tok != "" {
		if _, err := fmt.Sscanf(tok, "page-from-%d", &start); err != nil || start >= len(match) {
			return nil, errors.New("PaginationTokenExpiredException: the pagination token is not valid")
		}
	}
	end := min(start+per, len(match))
	out := &rgt.GetResourcesOutput{ResourceTagMappingList: match[start:end]}
	if end < len(match) {
		out.PaginationToken = aws.String(fmt.Sprintf("page-from-%d", end))
	}
	return out, nil
}

func matches(r rgttypes.ResourceTagMapping, filters []rgttypes.TagFilter) bool {
	for _, f := range filters {
		ok := false
		for _, tag := range r.Tags {
			if aws.ToString(tag.Key) == aws.ToString(f.Key) && (len(f.Values) == 0 ||
				containsString(f.Values, aws.ToString(tag.Value))) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func tagged(arn, stack string) rgttypes.ResourceTagMapping {
	return rgttypes.ResourceTagMapping{ResourceARN: aws.String(arn), Tags: []rgttypes.Tag{
		{Key: aws.String("app"), Value: aws.String("appstack")}, {Key: aws.String("stack"), Value: aws.String(stack)}}}
}

// fakeStates answers like EC2 and KMS: a state, or "" for what the service does not know.
type fakeStates struct {
	instances, volumes, keys map[string]string
	err                      error
}

func (f fakeStates) InstanceState(_ context.Context, id string) (string, error) {
	return f.instances[id], f.err
}
func (f fakeStates) VolumeState(_ context.Context, id string) (string, error) {
	return f.volumes[id], f.err
}
func (f fakeStates) KeyState(_ context.Context, id string) (string, error) { return f.keys[id], f.err }

type fakeParams map[string][]string

func (f fakeParams) Parameters(_ context.Context, path string) ([]string, error) { return f[path], nil }

const arnPrefix = "arn:aws:ec2:ap-southeast-1:123456789012:"

func TestTheScanPagesThroughEveryResourceOfTheStackAndNamesWhatRemains(t *testing.T) {
	tags := &fakeTags{}
	// Another stack's resources must not be reported.
	tags.resources = append(tags.resources, tagged(arnPrefix+"instance/i-0ffffffffffffffff", "staging"))
	for i := range 250 { // three pages of 100
		tags.resources = append(tags.resources, tagged(fmt.Sprintf("%sinstance/i-%017x", arnPrefix, i), "pr-e2e-1a2b"))
	}
	tags.resources = append(tags.resources,
		tagged(arnPrefix+"volume/vol-0aaaaaaaaaaaaaaaa", "pr-e2e-1a2b"),
		tagged(arnPrefix+"security-group/sg-0bbbbbbbbbbbbbbbb", "pr-e2e-1a2b"),
		tagged("arn:aws:kms:ap-southeast-1:123456789012:key/1111-pending", "pr-e2e-1a2b"),
		tagged("arn:aws:kms:ap-southeast-1:123456789012:key/2222-enabled", "pr-e2e-1a2b"),
	)
	states := fakeStates{
		instances: map[string]string{fmt.Sprintf("i-%017x", 7): "running"}, // the rest: terminated or unknown
		keys:      map[string]string{"1111-pending": "PendingDeletion", "2222-enabled": "Enabled"},
		volumes:   map[string]string{},
	}
	for i := range 250 {
		if i != 7 && i%2 == 0 {
			states.instances[fmt.Sprintf("i-%017x", i)] = "terminated"
		}
	}
	s := Scanner{Tags: tags, States: states, Params: fakeParams{"/appstack/e2e-1a2b": {"/appstack/e2e-1a2b/app/ready/i-0aaa"}},
		ParamPath: "/appstack/e2e-1a2b"}
	leftovers, gone, err := s.Scan(t.Context(), "pr-e2e-1a2b")
	require.NoError(t, err)
	var arns []string
	for _, l := range leftovers {
		arns = append(arns, l.ARN)
	}
	assert.Equal(t, []string{
		"/appstack/e2e-1a2b/app/ready/i-0aaa",
		"arn:aws:ec2:ap-southeast-1:123456789012:instance/i-00000000000000007",
		"arn:aws:ec2:ap-southeast-1:123456789012:security-group/sg-0bbbbbbbbbbbbbbbb",
		"arn:aws:kms:ap-southeast-1:123456789012:key/2222-enabled",
	}, arns)
	assert.Len(t, gone, 249+1+1, "terminated or unknown instances, the deleted volume, the key pending deletion")
	require.Len(t, tags.calls, 3, "every page")
	assert.Nil(t, tags.calls[0].PaginationToken)
	assert.Equal(t, "page-from-100", aws.ToString(tags.calls[1].PaginationToken))
	assert.Equal(t, "stack", aws.ToString(tags.calls[0].TagFilters[0].Key))
	assert.Equal(t, []string{"pr-e2e-1a2b"}, tags.calls[0].TagFilters[0].Values)
	assert.Contains(t, leftovers[1].Why, "state running")
}

func TestALeftoverFailsTheScanNamingIt(t *testing.T) {
	tags := &fakeTags{resources: []rgttypes.ResourceTagMapping{
		tagged(arnPrefix+"elastic-ip/eipalloc-0ccccccccccccccc", "pr-e2e-1a2b")}}
	var log strings.Builder
	s := Scanner{Tags: tags, States: fakeStates{}, Log: &log}
	err := s.WaitClean(t.Context(), "pr-e2e-1a2b", 0, time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "destroy left 1 resource(s) of stack pr-e2e-1a2b behind")
	assert.Contains(t, err.Error(), "elastic-ip/eipalloc-0ccccccccccccccc (still tagged with the stack)")
	assert.Contains(t, log.String(), "1 left")
}

// lagging lists a deleted resource for its first n calls, as the tagging API does for a while after a delete.
type lagging struct {
	fakeTags
	n int
}

func (l *lagging) GetResources(ctx context.Context, in *rgt.GetResourcesInput, o ...func(*rgt.Options)) (*rgt.GetResourcesOutput, error) {
	if len(l.calls) >= l.n {
		l.resources = nil
	}
	return l.fakeTags.GetResources(ctx, in, o...)
}

func TestTheScanWaitsForTheTaggingAPIToCatchUp(t *testing.T) {
	tags := &lagging{n: 2, fakeTags: fakeTags{resources: []rgttypes.ResourceTagMapping{
		tagged(arnPrefix+"security-group/sg-0bbbbbbbbbbbbbbbb", "pr-e2e-1a2b")}}}
	s := Scanner{Tags: tags, States: fakeStates{}}
	require.NoError(t, s.WaitClean(t.Context(), "pr-e2e-1a2b", 5*time.Second, time.Millisecond))
	assert.Len(t, tags.calls, 3)
}

func TestTheScanCountsWhatItCannotCheckAsLeftAndStopsOnARepeatedToken(t *testing.T) {
	tags := &fakeTags{resources: []rgttypes.ResourceTagMapping{tagged(arnPrefix+"instance/i-0aaaaaaaaaaaaaaaa", "pr-e2e-1a2b")}}
	s := Scanner{Tags: tags, States: fakeStates{err: errors.New("UnauthorizedOperation")}}
	leftovers, _, err := s.Scan(t.Context(), "pr-e2e-1a2b")
	require.NoError(t, err)
	require.Len(t, leftovers, 1)
	assert.Contains(t, leftovers[0].Why, "cannot be read: UnauthorizedOperation")

	_, _, err = Scanner{Tags: stuck{}, States: fakeStates{}}.Scan(t.Context(), "pr-e2e-1a2b")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "same pagination token")
}

// stuck hands out the same token forever.
type stuck struct{}

func (stuck) GetResources(context.Context, *rgt.GetResourcesInput, ...func(*rgt.Options)) (*rgt.GetResourcesOutput, error) {
	return &rgt.GetResourcesOutput{PaginationToken: aws.String("again")}, nil
}

func TestNotFoundIsOnlyTheServicesOwnNotFoundCodes(t *testing.T) {
	for code, want := range map[string]bool{
		"InvalidInstanceID.NotFound": true, // ec2:DescribeInstances, an id EC2 does not know
		"InvalidVolume.NotFound":     true, // ec2:DescribeVolumes
		"NotFoundException":          true, // kms:DescribeKey
		"UnauthorizedOperation":      false,
		"AccessDeniedException":      false,
		"RequestLimitExceeded":       false,
	} {
		err := fmt.Errorf("operation error EC2: DescribeInstances: %w", &smithy.GenericAPIError{Code: code})
		assert.Equal(t, want, NotFound(err), code)
	}
	assert.False(t, NotFound(errors.New("dial tcp: i/o timeout")))
	assert.False(t, NotFound(nil))
}
