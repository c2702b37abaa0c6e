package components_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"appstack/components/host"
)

const instanceID = "i-0abc1234def567890"

// world fakes the commands the boot script runs and records every call.
type world struct {
	t          *testing.T
	dir        string
	calls      [][]string
	pullFails  int // docker pull fails this many times before it works; -1: always
	secrets    map[string]string
	neverReady map[string]bool // port that never answers
	puts       []string        // values written to the readiness parameter, in order
	putNames   []string
}

func newWorld(t *testing.T) *world {
	return &world{t: t, dir: t.TempDir(), secrets: map[string]string{
		"/appstack/test/app/secrets/JWT_SECRET": "jwt-value-7c1",
	}, neverReady: map[string]bool{}}
}

func flag(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func (w *world) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	w.calls = append(w.calls, args)
	switch args[0] {
	case "dnf", "systemctl", "sleep", "amazon-cloudwatch-agent-ctl":
		return nil
	case "mkdir":
		return os.MkdirAll(args[len(args)-1], 0o755)
	case "chmod":
		mode, err := strconv.ParseUint(args[1], 8, 32)
		if err != nil {
			return err
		}
		return os.Chmod(args[2], os.FileMode(mode))
	case "cat":
		_, err := io.Copy(hc.Stdout, hc.Stdin)
		return err
	case "docker":
		switch args[1] {
		case "login":
			_, _ = io.ReadAll(hc.Stdin)
			return nil
		case "pull":
			if w.pullFails != 0 {
				w.pullFails--
				fmt.Fprintln(hc.Stderr, "Error response from daemon: manifest unknown")
				return interp.ExitStatus(1)
			}
			return nil
		}
	case "aws":
		switch strings.Join(args[1:3], " ") {
		case "ecr get-login-password":
			fmt.Fprintln(hc.Stdout, "ecr-token")
			return nil
		case "ssm get-parameter":
			v, ok := w.secrets[flag(args, "--name")]
			if !ok {
				fmt.Fprintln(hc.Stderr, "An error occurred (ParameterNotFound)")
				return interp.ExitStatus(254)
			}
			fmt.Fprintln(hc.Stdout, v)
			return nil
		case "ssm put-parameter":
			w.putNames = append(w.putNames, flag(args, "--name"))
			w.puts = append(w.puts, flag(args, "--value"))
			return nil
		}
	case "curl":
		url := args[len(args)-1]
		switch {
		case strings.HasSuffix(url, "/api/token"):
			fmt.Fprint(hc.Stdout, "imds-token")
			return nil
		case strings.HasSuffix(url, "/meta-data/instance-id"):
			fmt.Fprint(hc.Stdout, instanceID)
			return nil
		case strings.HasPrefix(url, "http://127.0.0.1:"):
			port, _, _ := strings.Cut(strings.TrimPrefix(url, "http://127.0.0.1:"), "/")
			if w.neverReady[port] {
				return interp.ExitStatus(7)
			}
			return nil
		}
	}
	w.t.Errorf("the boot script ran an unexpected command: %q", args)
	return interp.ExitStatus(127)
}

// run renders spec and runs it, returning the exit status and what the script printed.
func (w *world) run(spec host.BootSpec) (int, string) {
	w.t.Helper()
	script, err := host.RenderBootScript(spec)
	require.NoError(w.t, err)
	file, err := syntax.NewParser().Parse(strings.NewReader(script), "boot.sh")
	require.NoError(w.t, err)
	var out strings.Builder
	env := []string{
		"PATH=/nonexistent",
		"APPSTACK_ETC_DIR=" + filepath.Join(w.dir, "etc"),
		"APPSTACK_UNIT_DIR=" + filepath.Join(w.dir, "units"),
		"APPSTACK_DOCKER_DIR=" + filepath.Join(w.dir, "docker"),
		"APPSTACK_CWAGENT_DIR=" + filepath.Join(w.dir, "cwagent"),
		"APPSTACK_RETRY_DELAY=0",
		"APPSTACK_HEALTH_TIMEOUT=3",
		"APPSTACK_POLL_INTERVAL=1",
	}
	require.NoError(w.t, os.MkdirAll(filepath.Join(w.dir, "units"), 0o755))
	runner, err := interp.New(
		interp.Env(expand.ListEnviron(env...)),
		interp.StdIO(nil, &out, &out),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return w.exec }),
	)
	require.NoError(w.t, err)
	err = runner.Run(context.Background(), file)
	var status interp.ExitStatus
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &status):
		return int(status), out.String()
	}
	require.NoError(w.t, err)
	return -1, ""
}

func (w *world) ran(prefix ...string) int {
	n := 0
	for _, c := range w.calls {
		if len(c) >= len(prefix) && slices.Equal(c[:len(prefix)], prefix) {
			n++
		}
	}
	return n
}

func spec() host.BootSpec {
	return host.BootSpec{
		Region: "ap-southeast-1", LogGroup: "app-logs", ReadyPrefix: "/appstack/test/app/ready",
		Services: []host.BootService{{
			Name: "web", Image: digestRef("web", 1), Port: 8080, HealthPath: "/health", ReadyPath: "/ready",
			Env:     map[string]string{"PORT": "8080", "GREETING": "it's \"fine\" $HOME"},
			Secrets: map[string]string{"JWT_SECRET": "/appstack/test/app/secrets/JWT_SECRET"},
		}},
	}
}

func TestBootHappyPath(t *testing.T) {
	w := newWorld(t)
	s := spec()
	status, out := w.run(s)
	require.Equal(t, 0, status, out)

	assert.Equal(t, 1, w.ran("docker", "pull", digestRef("web", 1)), "pulled once, by digest")
	assert.Equal(t, 1, w.ran("docker", "login", "--username", "AWS", "--password-stdin",
		"123456789012.dkr.ecr.ap-southeast-1.amazonaws.com"))
	assert.Equal(t, 1, w.ran("systemctl", "enable", "--now", "appstack-web.service"))

	etc, err := os.Stat(filepath.Join(w.dir, "etc"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), etc.Mode().Perm(), "the secrets directory is root-only")
	envFile := filepath.Join(w.dir, "etc", "web.env")
	st, err := os.Stat(envFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the env file is root-only")
	env, err := os.ReadFile(envFile)
	require.NoError(t, err)
	assert.Equal(t, "GREETING=it's \"fine\" $HOME\nPORT=8080\nJWT_SECRET=jwt-value-7c1\n", string(env),
		"plain values arrive verbatim, unexpanded")
	assert.NotContains(t, out, "jwt-value-7c1", "the secret is never logged")

	unit, err := os.ReadFile(filepath.Join(w.dir, "units", "appstack-web.service"))
	require.NoError(t, err)
	assert.Contains(t, string(unit), "Restart=always")
	assert.Contains(t, string(unit), "--network host --env-file "+envFile)
	assert.Contains(t, string(unit), "--log-driver awslogs --log-opt awslogs-region=ap-southeast-1 "+
		"--log-opt awslogs-group=app-logs --log-opt awslogs-stream=web/"+instanceID+" "+digestRef("web", 1))
	daemon, err := os.ReadFile(filepath.Join(w.dir, "docker", "daemon.json"))
	require.NoError(t, err)
	assert.Contains(t, string(daemon), `"max-size": "10m"`, "local logs rotate")
	assert.FileExists(t, filepath.Join(w.dir, "units", "appstack-prune.timer"))

	require.Equal(t, []string{s.Fingerprint()}, w.puts, "one signal: the fingerprint")
	assert.Equal(t, []string{"/appstack/test/app/ready/" + instanceID}, w.putNames)
	last := w.calls[len(w.calls)-1]
	assert.Equal(t, []string{"aws", "ssm", "put-parameter"}, last[:3], "the signal is written last")
}

func TestPullFailsTwiceThenSucceeds(t *testing.T) {
	w := newWorld(t)
	w.pullFails = 2
	status, out := w.run(spec())
	require.Equal(t, 0, status, out)
	assert.Equal(t, 3, w.ran("docker", "pull"))
	assert.Equal(t, 2, w.ran("sleep"), "a pause between attempts")
	assert.Equal(t, []string{spec().Fingerprint()}, w.puts)
}

func TestPullAlwaysFails(t *testing.T) {
	w := newWorld(t)
	w.pullFails = -1
	status, out := w.run(spec())
	assert.Equal(t, 1, status)
	assert.Equal(t, 5, w.ran("docker", "pull"), "five attempts")
	require.Len(t, w.puts, 1)
	assert.Equal(t, "failed:pull:docker pull web failed after 5 attempts", w.puts[0])
	assert.Zero(t, w.ran("systemctl", "enable", "--now", "appstack-web.service"), "no service is started")
	assert.Contains(t, out, "FAILED at step pull")
}

func TestServiceNeverReady(t *testing.T) {
	w := newWorld(t)
	w.neverReady["8080"] = true
	status, _ := w.run(spec())
	assert.Equal(t, 1, status)
	require.Len(t, w.puts, 1)
	assert.Equal(t, "failed:health:web did not answer /health and /ready on port 8080 within 3s", w.puts[0])
	assert.Equal(t, 1, w.ran("systemctl", "enable", "--now", "appstack-web.service"), "left up for inspection")
}

func TestMissingSecret(t *testing.T) {
	w := newWorld(t)
	delete(w.secrets, "/appstack/test/app/secrets/JWT_SECRET")
	status, _ := w.run(spec())
	assert.Equal(t, 1, status)
	require.Len(t, w.puts, 1)
	assert.Equal(t, "failed:secret:cannot read /appstack/test/app/secrets/JWT_SECRET for JWT_SECRET", w.puts[0])
	assert.Zero(t, w.ran("systemctl", "enable", "--now", "appstack-web.service"))
}

func TestSecretWithALineBreakIsRefused(t *testing.T) {
	w := newWorld(t)
	w.secrets["/appstack/test/app/secrets/JWT_SECRET"] = "line1\nline2"
	status, _ := w.run(spec())
	assert.Equal(t, 1, status)
	assert.Equal(t, []string{"failed:secret:JWT_SECRET contains a line break"}, w.puts)
}

func TestFourServicesBootInOrder(t *testing.T) {
	w := newWorld(t)
	s := bootSpec(4)
	for i := range s.Services {
		s.Services[i].Secrets = nil
	}
	s.ReadyPrefix = "/appstack/prod/app/ready"
	status, out := w.run(s)
	require.Equal(t, 0, status, out)
	assert.Equal(t, 4, w.ran("docker", "pull"))
	for i := range 4 {
		assert.Equal(t, 1, w.ran("systemctl", "enable", "--now", fmt.Sprintf("appstack-app%d.service", i)))
	}
	assert.Equal(t, []string{s.Fingerprint()}, w.puts)
}

func TestECSAMISkipsTheDockerInstall(t *testing.T) {
	w := newWorld(t)
	s := spec()
	s.ECSAMI = true
	status, out := w.run(s)
	require.Equal(t, 0, status, out)
	assert.Zero(t, w.ran("dnf", "install", "-y", "docker"), "Docker ships with the ECS-optimised AMI")
	assert.Equal(t, 1, w.ran("systemctl", "disable", "--now", "ecs"))
	assert.Equal(t, []string{s.Fingerprint()}, w.puts)

	plain := newWorld(t)
	status, out = plain.run(spec())
	require.Equal(t, 0, status, out)
	assert.Equal(t, 1, plain.ran("dnf", "install", "-y", "docker"))
}
