package ssmstore_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/rollout"
	"appstack/testing/standin/ssmstore"
)

func TestTheSDKListsAndDeletesSignalsAsSSMAnswers(t *testing.T) {
	store := &ssmstore.Store{}
	require.NoError(t, store.Update(func(st *ssmstore.State) error {
		for i := range 23 {
			st.Parameters[fmt.Sprintf("/appstack/s/web/ready/i-%02d", i)] = "booting sha256:0"
		}
		st.Parameters["/appstack/s/web/ready/deeper/i-x"] = "not listed"
		return nil
	}))
	srv := httptest.NewServer(&ssmstore.Server{Store: store})
	t.Cleanup(srv.Close)
	client := ssm.New(ssm.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", "")})

	got, err := rollout.ListSignals(t.Context(), client, "/appstack/s/web/ready")
	require.NoError(t, err)
	assert.Len(t, got, 23)
	assert.Equal(t, "booting sha256:0", got["i-22"])

	out, err := client.DeleteParameters(t.Context(), &ssm.DeleteParametersInput{
		Names: []string{"/appstack/s/web/ready/i-00", "/appstack/s/web/ready/i-nope"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"/appstack/s/web/ready/i-00"}, out.DeletedParameters)
	assert.Equal(t, []string{"/appstack/s/web/ready/i-nope"}, out.InvalidParameters)

	_, err = client.GetParametersByPath(t.Context(), &ssm.GetParametersByPathInput{
		Path: aws.String("/appstack/s/web/ready"), MaxResults: aws.Int32(50)})
	require.Error(t, err, "SSM pages by 10 at most")
	assert.Contains(t, err.Error(), "ValidationException")
}
