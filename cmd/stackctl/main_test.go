package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"appstack/internal/lifecycle"
)

func TestCommandLineMistakesAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "stackctl review|up|preview|destroy|reap|comment"},
		{[]string{"comment", "-pr", "7"}, "stackctl comment needs -pr, -kind and -file, or -previews"},
		{[]string{"up", "-stack", "s", "-pulumi-version", "latest"}, `-pulumi-version "latest"`},
		{[]string{"launch"}, `unknown command "launch"`},
		{[]string{"review"}, "stackctl review needs -pr N"},
		{[]string{"up"}, "stackctl up needs -stack"},
		{[]string{"preview", "-stack", "staging"}, "stackctl preview needs -stack and -out"},
		{[]string{"destroy"}, "stackctl destroy needs -stack"},
		{[]string{"reap", "-closed", "3,x"}, `-closed: "x" is not a pull request number`},
		{[]string{"up", "-nope"}, "flag provided but not defined: -nope"},
	} {
		err := run(context.Background(), tc.args, &strings.Builder{}, &lifecycle.Manager{})
		assert.True(t, errors.Is(err, errUsage), "%v: %v", tc.args, err)
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestParseList(t *testing.T) {
	got, err := parseList("3, 5,8")
	assert.NoError(t, err)
	assert.Equal(t, []int{3, 5, 8}, got)
	got, err = parseList("")
	assert.NoError(t, err)
	assert.Empty(t, got)
}
