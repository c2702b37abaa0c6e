package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/lifecycle"
)

// fakeSSM is a parameter store that answers as SSM does: GetParametersByPath pages (at most pageSize a page),
// DeleteParameters refuses more than ten names.
type fakeSSM struct {
	params   map[string]string
	pageSize int
	deletes  int
}

func (f *fakeSSM) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput,
	_ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	var names []string
	for n := range f.params {
		if strings.HasPrefix(n, aws.ToString(in.Path)+"/") && (aws.ToBool(in.Recursive) ||
			!strings.Contains(strings.TrimPrefix(n, aws.ToString(in.Path)+"/"), "/")) {
			names = append(names, n)
		}
	}
	slices.Sort(names) // a stable order, so that pages follow on from each other
	start := 0
	if in.NextToken != nil {
		_, _ = fmt.Sscan(*in.NextToken, &start)
	}
	out := &ssm.GetParametersByPathOutput{}
	for i := start; i < len(names) && i < start+f.pageSize; i++ {
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(names[i])})
	}
	if start+f.pageSize < len(names) {
		out.NextToken = aws.String(fmt.Sprint(start + f.pageSize))
	}
	return out, nil
}

func (f *fakeSSM) DeleteParameters(_ context.Context, in *ssm.DeleteParametersInput,
	_ ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error) {
	if len(in.Names) > 10 {
		return nil, fmt.Errorf("ValidationException: at most 10 names")
	}
	f.deletes++
	out := &ssm.DeleteParametersOutput{}
	for _, n := range in.Names {
		if _, ok := f.params[n]; ok {
			delete(f.params, n)
			out.DeletedParameters = append(out.DeletedParameters, n)
		}
	}
	return out, nil
}

// stackctl destroy removes what a stack's hosts wrote themselves (their readiness signals), which pulumi destroy
// cannot: every parameter under /<project>/<stack>/, and nothing of another stack.
func TestDestroyCleansUpTheHostsReadinessSignals(t *testing.T) {
	f := &fakeSSM{params: map[string]string{}, pageSize: 4}
	for i := range 23 {
		f.params[fmt.Sprintf("/appstack/pr-7/app/ready/i-%03d", i)] = "ready"
	}
	f.params["/appstack/pr-70/app/ready/i-keep"] = "ready"
	f.params["/appstack/staging/app/ready/i-keep"] = "ready"

	deleted, err := lifecycle.SSMStore{Client: f}.DeletePath(context.Background(), "ap-southeast-1", "",
		lifecycle.StackPath("appstack", "pr-7"))
	require.NoError(t, err)
	assert.Len(t, deleted, 23)
	assert.Equal(t, 3, f.deletes, "ten names a call")
	assert.Equal(t, map[string]string{"/appstack/pr-70/app/ready/i-keep": "ready",
		"/appstack/staging/app/ready/i-keep": "ready"}, f.params, "only the destroyed stack's path")
}
