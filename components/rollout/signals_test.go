package rollout

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/testing/standin/asgapi"
	"appstack/testing/standin/ssmstore"
)

// signalStore is the SSM Parameter Store stand-in (testing/standin/ssmstore, the one the engine tests use) spoken
// to by the real aws-sdk-go-v2 client, and the calls it answered by operation.
type signalStore struct {
	store  *ssmstore.Store
	client *ssm.Client
	mu     sync.Mutex
	calls  map[string]int
}

func newSignalStore(t *testing.T, params map[string]string) *signalStore {
	t.Helper()
	s := &signalStore{store: &ssmstore.Store{}, calls: map[string]int{}}
	require.NoError(t, s.store.Update(func(st *ssmstore.State) error {
		maps.Copy(st.Parameters, params)
		return nil
	}))
	srv := &ssmstore.Server{Store: s.store}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")]++
		s.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	s.client = ssm.New(ssm.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(server.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASTANDINTEST00000", "standin-secret", "")})
	return s
}

// count is how many calls of op the store answered since the last count, which it resets.
func (s *signalStore) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[op]
	s.calls[op] = 0
	return n
}

func (s *signalStore) params(t *testing.T) map[string]string {
	t.Helper()
	st, err := s.store.Read()
	require.NoError(t, err)
	return st.Parameters
}

const prefix = "/appstack/staging/web/ready"

func TestSignalsAreListedInPagesOfTenWithABound(t *testing.T) {
	params := map[string]string{prefix + "/nested/i-x": "ready " + fp + " -"}
	for i := range 25 {
		params[fmt.Sprintf("%s/i-%02d", prefix, i)] = "ready " + fp + " -"
	}
	f := newSignalStore(t, params)
	got, err := ListSignals(context.Background(), f.client, prefix+"/")
	require.NoError(t, err)
	assert.Len(t, got, 25, "only the signals directly under the prefix")
	assert.Equal(t, 3, f.count("GetParametersByPath"))

	for i := range MaxSignalPages * SignalPageSize {
		params[fmt.Sprintf("%s/i-more%04d", prefix, i)] = "booting " + fp
	}
	f = newSignalStore(t, params)
	_, err = ListSignals(context.Background(), f.client, prefix)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than 500 readiness signals under "+prefix)
	assert.Equal(t, MaxSignalPages, f.count("GetParametersByPath"), "the listing stops at its bound")

	_, err = ListSignals(context.Background(), nil, prefix)
	require.ErrorIs(t, err, ErrNoSignalStore)
}

func TestASuccessfulRolloutPrunesTheSignalsOfHostsNoLongerInTheGroup(t *testing.T) {
	params := map[string]string{prefix + "/i-a": "ready " + fp + " -", prefix + "/i-b": "ready " + fp + " -"}
	for i := range 23 {
		params[fmt.Sprintf("%s/i-gone%02d", prefix, i)] = "ready " + fp + " -"
	}
	params[prefix+"/notahost"] = "x"
	f := newSignalStore(t, params)
	asg := newASG(t, fleet{version: "3", instances: []*asgapi.Instance{instance("i-a", "3"), instance("i-b", "3")}})
	var lines []string
	r := &Rollout{API: asg.client, Log: func(l string) { lines = append(lines, l) }}
	n, err := r.Prune(context.Background(), f.client, groupName, prefix)
	require.NoError(t, err)
	assert.Equal(t, 23, n)
	assert.Equal(t, 3, f.count("DeleteParameters"), "DeleteParameters takes ten names at most")
	assert.Equal(t, map[string]string{prefix + "/i-a": "ready " + fp + " -", prefix + "/i-b": "ready " + fp + " -",
		prefix + "/notahost": "x"}, f.params(t), "the hosts in the group keep their signals")
	assert.Contains(t, lines, "group "+groupName+": pruned the readiness signals of 23 host(s) no longer in the group")
}
