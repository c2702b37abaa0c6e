package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/lifecycle"
	"appstack/internal/project"
)

func TestCommandLineMistakesAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "stackctl review|up|preview|destroy|reap|outputs|rollback|drift|unlock|install-cli|comment"},
		{[]string{"comment", "-pr", "7"}, "stackctl comment needs -pr, -kind and -file, or -previews"},
		{[]string{"up", "-stack", "s", "-pulumi-version", "latest"}, `-pulumi-version "latest"`},
		{[]string{"launch"}, `unknown command "launch"`},
		{[]string{"review"}, "stackctl review needs -pr N"},
		{[]string{"up"}, "stackctl up needs -stack"},
		{[]string{"preview", "-stack", "staging"}, "stackctl preview needs -stack and -out"},
		{[]string{"destroy"}, "stackctl destroy needs -stack"},
		{[]string{"reap", "-closed", "3,x"}, `-closed: "x" is not a pull request number`},
		{[]string{"outputs", "-stack", "production"}, "stackctl outputs needs -stack and -out"},
		{[]string{"rollback", "-stack", "production"}, "stackctl rollback needs -stack and -to"},
		{[]string{"drift", "-out", "drift.txt"}, "stackctl drift needs -stack and -out"},
		{[]string{"unlock"}, "stackctl unlock needs -stack"},
		{[]string{"unlock", "-stack", "s", "-min-age", "soon"}, `invalid value "soon" for flag -min-age`},
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

// Every committed stack file keeps both secrets lines, so that any runner decrypts its secrets.
func TestCommittedStackFilesKeepBothSecretsLines(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(project.Root(), "Pulumi.*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NoError(t, lifecycle.CheckStackFile(filepath.Base(f), raw))
	}
}

func TestStackFileSecretsRule(t *testing.T) {
	const secret = "config:\n  appstack:secrets:\n    JWT:\n      secure: v1:abc\n"
	for _, tc := range []struct {
		name, file, want string
	}{
		{"no secrets and no provider is fine", "config:\n  appstack:environment: staging\n", ""},
		{"both lines with a secret is fine",
			"secretsprovider: awskms://alias/x\nencryptedkey: AQID\n" + secret, ""},
		{"a passphrase salt with a secret is fine", "encryptionsalt: v1:abc\n" + secret, ""},
		{"a provider without its key is refused",
			"secretsprovider: awskms://alias/x\nconfig:\n  appstack:environment: staging\n",
			"secretsprovider: awskms://alias/x is committed without encryptedkey:"},
		{"a provider without its key is refused with a secret too",
			"secretsprovider: awskms://alias/x\n" + secret, "commit both lines"},
		{"a key without its provider is refused", "encryptedkey: AQID\nconfig: {}\n",
			"encryptedkey: is committed without the secretsprovider:"},
		{"a secret with neither line is refused", secret, "holds secure values (appstack:secrets)"},
		{"a key without a namespace is the project's", "config:\n  jwt:\n    secure: v1:abc\n",
			"holds secure values (appstack:jwt)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := lifecycle.CheckStackFile("Pulumi.s.yaml", []byte(tc.file))
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, "Pulumi.s.yaml: ")
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// An example's placeholder secret is refused before the CLI runs, by its key and with the command that sets it:
// the CLI itself stops at it with "could not decrypt configuration value: : bad value", naming no key.
func TestPlaceholderSecretsAreNamedByKeyBeforePulumiRuns(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(project.Root(), "examples", "mexc-sniper", "Pulumi.production.yaml"))
	require.NoError(t, err)
	err = lifecycle.CheckPlaceholders("production", raw)
	require.Error(t, err)
	for _, k := range []string{"MEXC_API_KEY", "MEXC_SECRET_KEY", "JWT_SECRET"} {
		assert.ErrorContains(t, err, "Pulumi.production.yaml: appstack:secrets."+k+" holds a placeholder")
		assert.ErrorContains(t, err, "pulumi config set --stack production --secret --path 'appstack:secrets."+k+
			"' VALUE")
	}

	assert.NoError(t, lifecycle.CheckPlaceholders("s", []byte("config:\n  appstack:secrets:\n    JWT:\n"+
		"      secure: v1:c2FsdHNhbHQ=:Y2lwaGVydGV4dA==\n")), "ciphertext is no placeholder")
	files, err := filepath.Glob(filepath.Join(project.Root(), "Pulumi.*.yaml"))
	require.NoError(t, err)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NoError(t, lifecycle.CheckPlaceholders("s", raw), f)
	}
}

// The steps run in a copy of the project whose Pulumi.yaml names the binary; the checkout's files are left byte
// for byte as committed.
func TestBinaryLeavesTheCommittedProjectFile(t *testing.T) {
	dir := t.TempDir()
	committed := "name: appstack\nruntime: go\ndescription: a test project\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(committed), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.staging.yaml"), []byte("config: {}\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "main.go"), []byte("package main\n"), 0o644))
	bin := filepath.Join(t.TempDir(), "appstack")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))

	m := &lifecycle.Manager{Dir: dir, Binary: bin}
	defer func() { require.NoError(t, m.Close()) }()
	work, err := m.ProjectDir()
	require.NoError(t, err)
	assert.NotEqual(t, dir, work)
	raw, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	require.NoError(t, err)
	assert.Equal(t, committed, string(raw))
	copied, err := os.ReadFile(filepath.Join(work, "Pulumi.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(copied), "binary: "+bin)
	assert.FileExists(t, filepath.Join(work, "Pulumi.staging.yaml"))
	assert.FileExists(t, filepath.Join(work, "app", "main.go"))

	// The copy follows the checkout's sources from step to step, but keeps the stack files the steps wrote.
	require.NoError(t, os.WriteFile(filepath.Join(work, "Pulumi.staging.yaml"), []byte("config: {a: 1}\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "main.go"), []byte("package main // v2\n"), 0o644))
	again, err := m.ProjectDir()
	require.NoError(t, err)
	assert.Equal(t, work, again)
	src, err := os.ReadFile(filepath.Join(work, "app", "main.go"))
	require.NoError(t, err)
	assert.Equal(t, "package main // v2\n", string(src))
	stackFile, err := os.ReadFile(filepath.Join(work, "Pulumi.staging.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "config: {a: 1}\n", string(stackFile))
	stackFile, err = os.ReadFile(filepath.Join(dir, "Pulumi.staging.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "config: {}\n", string(stackFile), "the checkout's stack file is never written")

	_, err = (&lifecycle.Manager{Dir: dir, Binary: filepath.Join(dir, "missing")}).ProjectDir()
	assert.ErrorContains(t, err, "-binary")
}

func TestReadDigests(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "outputs.json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	ref := "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/app-web-repo@sha256:" + strings.Repeat("a", 64)
	got, err := lifecycle.ReadDigests(write(`{"imageDigests": {"web": "` + ref + `"}, "publicIp": "203.0.113.1"}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"web": ref}, got)

	_, err = lifecycle.ReadDigests(write(`{"imageDigests": {"web": "nginx:latest"}}`))
	assert.ErrorContains(t, err, `imageDigests.web: "nginx:latest" is not pinned by digest`)
	_, err = lifecycle.ReadDigests(write(`{"publicIp": "203.0.113.1"}`))
	assert.ErrorContains(t, err, "no imageDigests output to roll back to")
	_, err = lifecycle.ReadDigests(write(`[`))
	assert.ErrorContains(t, err, "imageDigests")
}

// One place pins the Pulumi CLI: the constant stackctl installs by default is the version the repository's own
// build script (tools/pulumi-cli/build.sh, which reads the constant) builds from the modules both go.mod files
// there pin, .ci/run builds it with that script and nothing from outside the repository, and no script names
// another version.
func TestOnePulumiVersion(t *testing.T) {
	assert.Regexp(t, `^\d+\.\d+\.\d+$`, project.PulumiVersion)
	tools := filepath.Join(project.Root(), "tools", "pulumi-cli")
	for _, mod := range []string{"go.mod", filepath.Join("language-go", "go.mod")} {
		raw, err := os.ReadFile(filepath.Join(tools, mod))
		require.NoError(t, err, "the repository builds its own Pulumi CLI and language host")
		assert.Regexp(t, `(?m)^(require )?\s*github\.com/pulumi/pulumi/pkg/v3 v`+regexp.QuoteMeta(project.PulumiVersion)+`$`,
			string(raw), "tools/pulumi-cli/%s builds another version", mod)
	}
	build, err := os.ReadFile(filepath.Join(tools, "build.sh"))
	require.NoError(t, err)
	assert.Contains(t, string(build), "internal/project/project.go", "build.sh reads the pinned version")
	version := regexp.MustCompile(`v3\.\d+\.\d+`)
	ci, err := os.ReadFile(filepath.Join(project.Root(), ".ci", "run"))
	require.NoError(t, err)
	for name, raw := range map[string][]byte{"build.sh": build, ".ci/run": ci} {
		for _, v := range version.FindAllString(string(raw), -1) {
			assert.Equal(t, "v"+project.PulumiVersion, v, "%s names another version", name)
		}
	}
	assert.Contains(t, string(ci), "tools/pulumi-cli/build.sh", ".ci/run builds the CLI with the repository's script")
	assert.NotContains(t, string(ci), "shared/", "a clone has no ../shared: .ci/run needs nothing from it")
}

func TestExitCodes(t *testing.T) {
	assert.Equal(t, 0, exitCode(nil))
	assert.Equal(t, 1, exitCode(errors.New("stack staging: up: failed")))
	assert.Equal(t, 2, exitCode(fmt.Errorf("%w: stackctl up needs -stack", errUsage)))
	assert.Equal(t, 3, exitCode(fmt.Errorf("stack production: %w (1 update)", lifecycle.ErrDrift)))
}

func TestDriftIsAnyRefreshResultButSame(t *testing.T) {
	assert.Empty(t, lifecycle.Drifted(nil))
	assert.Empty(t, lifecycle.Drifted(map[apitype.OpType]int{apitype.OpSame: 21}))
	assert.Equal(t, []string{"1 delete", "2 update"}, lifecycle.Drifted(map[apitype.OpType]int{
		apitype.OpSame: 18, apitype.OpUpdate: 2, apitype.OpDelete: 1, apitype.OpCreate: 0}))
}

// install-cli installs the pinned version where the Automation API looks for it, and prints that root; an
// installed CLI of that version is used as it is (the stand-in CLI here only answers `pulumi version`).
func TestInstallCLIPrintsTheRootOfThePinnedVersion(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	root := filepath.Join(home, ".pulumi", "versions", project.PulumiVersion)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin", "pulumi"),
		[]byte("#!/bin/sh\necho v"+project.PulumiVersion+"\n"), 0o755))
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"install-cli"}, &out, &lifecycle.Manager{}))
	assert.Equal(t, root+"\n", out.String())
}
