package rollout

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/testing/standin/asgapi"
)

// fakeSSM answers as Parameter Store does: pages of at most MaxResults (at most 10) in name order, and deletes of
// at most 10 names.
type fakeSSM struct {
	params  map[string]string
	pages   int
	deletes [][]string
}

func (f *fakeSSM) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput,
	_ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	f.pages++
	n := int(aws.ToInt32(in.MaxResults))
	if n < 1 || n > 10 {
		return nil, fmt.Errorf("ValidationException: MaxResults %d: want 1 to 10", n)
	}
	var names []string
	for name := range f.params {
		if len(name) > len(*in.Path) && name[:len(*in.Path)+1] == *in.Path+"/" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	out := &ssm.GetParametersByPathOutput{}
	for _, name := range names[start:min(start+n, len(names))] {
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(name),
			Value: aws.String(f.params[name])})
	}
	if start+n < len(names) {
		out.NextToken = aws.String(strconv.Itoa(start + n))
	}
	return out, nil
}

func (f *fakeSSM) DeleteParameters(_ context.Context, in *ssm.DeleteParametersInput,
	_ ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error) {
	if len(in.Names) < 1 || len(in.Names) > 10 {
		return nil, fmt.Errorf("ValidationException: %d names: want 1 to 10", len(in.Names))
	}
	f.deletes = append(f.deletes, in.Names)
	out := &ssm.DeleteParametersOutput{}
	for _, n := range in.Names {
		if _, ok := f.params[n]; ok {
			delete(f.params, n)
			out.DeletedParameters = append(out.DeletedParameters, n)
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

const prefix = "/appstack/staging/web/ready"

func TestSignalsAreListedInPagesOfTenWithABound(t *testing.T) {
	f := &fakeSSM{params: map[string]string{prefix + "/nested/i-x": "ready " + fp + " -"}}
	for i := range 25 {
		f.params[fmt.Sprintf("%s/i-%02d", prefix, i)] = "ready " + fp + " -"
	}
	got, err := ListSignals(context.Background(), f, prefix+"/")
	require.NoError(t, err)
	assert.Len(t, got, 25, "only the signals directly under the prefix")
	assert.Equal(t, 3, f.pages)

	for i := range MaxSignalPages * SignalPageSize {
		f.params[fmt.Sprintf("%s/i-more%04d", prefix, i)] = "booting " + fp
	}
	f.pages = 0
	_, err = ListSignals(context.Background(), f, prefix)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than 500 readiness signals under "+prefix)
	assert.Equal(t, MaxSignalPages, f.pages, "the listing stops at its bound")

	_, err = ListSignals(context.Background(), nil, prefix)
	require.ErrorIs(t, err, ErrNoSignalStore)
}

func TestASuccessfulRolloutPrunesTheSignalsOfHostsNoLongerInTheGroup(t *testing.T) {
	f := &fakeSSM{params: map[string]string{prefix + "/i-a": "ready " + fp + " -", prefix + "/i-b": "ready " + fp + " -"}}
	for i := range 23 {
		f.params[fmt.Sprintf("%s/i-gone%02d", prefix, i)] = "ready " + fp + " -"
	}
	f.params[prefix+"/notahost"] = "x"
	asg := newASG(t, fleet{version: "3", instances: []*asgapi.Instance{instance("i-a", "3"), instance("i-b", "3")}})
	var lines []string
	r := &Rollout{API: asg.client, Log: func(l string) { lines = append(lines, l) }}
	n, err := r.Prune(context.Background(), f, groupName, prefix)
	require.NoError(t, err)
	assert.Equal(t, 23, n)
	assert.Len(t, f.deletes, 3, "DeleteParameters takes ten names at most")
	assert.Equal(t, map[string]string{prefix + "/i-a": "ready " + fp + " -", prefix + "/i-b": "ready " + fp + " -",
		prefix + "/notahost": "x"}, f.params, "the hosts in the group keep their signals")
	assert.Contains(t, lines, "group "+groupName+": pruned the readiness signals of 23 host(s) no longer in the group")
}
