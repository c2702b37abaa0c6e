//go:build engine

package engine_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra/appstack"
	"appstack/internal/offline"
)

// A first up in an account without the bootstrap stops, through the real engine and the provider's lookups,
// before the provider is asked to create anything, with one error naming what is missing and the command.
func TestAFirstUpWithoutTheBootstrapNamesWhatIsMissing(t *testing.T) {
	boundary := "arn:aws:iam::" + offline.Account + ":policy/appstack/appstack-host-boundary"
	// The stand-in provider plugin inherits the CLI's environment, which inherits the test's.
	t.Setenv("APPSTACK_STANDIN_MISSING", boundary+","+appstack.EventsServiceLinkedRoleName)
	e := newEngine(t)
	_, err := e.m.Up(context.Background(), "staging")
	require.Error(t, err)
	for _, want := range []string{"has not been bootstrapped", "the permissions boundary policy " + boundary,
		"the service-linked role " + appstack.EventsServiceLinkedRoleName, appstack.BootstrapCommand} {
		assert.ErrorContains(t, err, want)
	}
	if _, err := os.Stat(e.log); err != nil {
		return // the stand-in logged no call at all
	}
	for _, c := range e.calls(t) {
		assert.NotEqual(t, "create", strings.ToLower(c["op"]), "nothing is created: %v", c)
	}
}
