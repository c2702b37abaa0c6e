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
	"appstack/components/readiness"
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
	clock      int             // what `date +%s` answers; every sleep and curl --max-time advances it
	imdsDown   bool            // the instance metadata service never answers
	hang       map[string]bool // port that accepts connections and never answers: each poll takes --max-time
	noCLI      bool            // the AWS CLI is not installed until dnf installs awscli-2
	pullHangs  bool            // docker pull never returns: timeout ends it at its limit
	putClock   []int           // the clock at each signal written
	others     map[string]string
	deleted    []string
	loginStdin []string // what each docker login read on stdin
	pullConfig []string // DOCKER_CONFIG at each docker pull
	tempDirs   []string // made by mktemp -d
}

func newWorld(t *testing.T) *world {
	return &world{t: t, dir: t.TempDir(), secrets: map[string]string{
		"/appstack/test/app/secrets/JWT_SECRET": "jwt-value-7c1",
	}, neverReady: map[string]bool{}, hang: map[string]bool{}, clock: 1_700_000_000, others: map[string]string{}}
}

func flag(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// mustBeBounded are the commands that wait on the network or a package mirror: the boot runs each under
// timeout, so that none outlives the deadline.
var mustBeBounded = map[string]bool{"aws": true, "dnf": true, "amazon-cloudwatch-agent-ctl": true}

func (w *world) exec(ctx context.Context, args []string) error {
	return w.execBounded(ctx, args, 0)
}

func (w *world) execBounded(ctx context.Context, args []string, limit int) error {
	hc := interp.HandlerCtx(ctx)
	if args[0] == "timeout" {
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= 0 {
			w.t.Errorf("timeout with a bad limit: %q", args)
			return interp.ExitStatus(125)
		}
		return w.execBounded(ctx, args[2:], n)
	}
	w.calls = append(w.calls, args)
	network := mustBeBounded[args[0]] || (args[0] == "docker" && (args[1] == "pull" || args[1] == "login")) ||
		(args[0] == "systemctl" && args[1] == "restart")
	if network && limit == 0 && (args[0] != "aws" || args[1] != "--version") {
		w.t.Errorf("%q runs without a time limit", args)
	}
	switch args[0] {
	case "dnf":
		if slices.Contains(args, "awscli-2") {
			w.noCLI = false
		}
		return nil
	case "systemctl", "amazon-cloudwatch-agent-ctl":
		return nil
	case "sleep":
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return err
		}
		w.clock += n
		return nil
	case "date":
		fmt.Fprintln(hc.Stdout, w.clock)
		return nil
	case "mkdir":
		return os.MkdirAll(args[len(args)-1], 0o755)
	case "mktemp":
		dir, err := os.MkdirTemp(w.dir, "docker-config-")
		if err != nil {
			return err
		}
		w.tempDirs = append(w.tempDirs, dir)
		fmt.Fprintln(hc.Stdout, dir)
		return nil
	case "rm":
		if !slices.Equal(args[:2], []string{"rm", "-rf"}) || !slices.Contains(w.tempDirs, args[2]) {
			w.t.Errorf("rm of something the boot did not make: %q", args)
			return interp.ExitStatus(1)
		}
		return os.RemoveAll(args[2])
	case "chmod":
		mode, err := strconv.ParseUint(args[1], 8, 32)
		if err != nil {
			return err
		}
		return os.Chmod(args[2], os.FileMode(mode))
	case "cat":
		if len(args) > 1 {
			raw, err := os.ReadFile(args[1])
			if err != nil {
				return interp.ExitStatus(1)
			}
			_, err = hc.Stdout.Write(raw)
			return err
		}
		_, err := io.Copy(hc.Stdout, hc.Stdin)
		return err
	case "docker":
		switch args[1] {
		case "login":
			in, _ := io.ReadAll(hc.Stdin)
			w.loginStdin = append(w.loginStdin, string(in))
			if dir := hc.Env.Get("DOCKER_CONFIG").String(); dir != "" {
				return os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"x":{}}}`), 0o600)
			}
			return nil
		case "rm", "create", "logout":
			return nil
		case "pull":
			w.pullConfig = append(w.pullConfig, hc.Env.Get("DOCKER_CONFIG").String())
			if w.pullHangs {
				w.clock += limit
				return interp.ExitStatus(124)
			}
			if w.pullFails != 0 {
				w.pullFails--
				fmt.Fprintln(hc.Stderr, "Error response from daemon: manifest unknown")
				return interp.ExitStatus(1)
			}
			return nil
		}
	case "aws":
		if w.noCLI {
			return interp.ExitStatus(127)
		}
		if args[1] == "--version" {
			return nil
		}
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
			w.putClock = append(w.putClock, w.clock)
			return nil
		case "ssm get-parameters-by-path":
			for name, value := range w.others {
				fmt.Fprintf(hc.Stdout, "%s\t%s\n", name, value)
			}
			fmt.Fprintf(hc.Stdout, "%s/%s\t%s\n", flag(args, "--path"), instanceID, w.puts[len(w.puts)-1])
			return nil
		case "ssm delete-parameter":
			w.deleted = append(w.deleted, flag(args, "--name"))
			return nil
		}
	case "curl":
		url := args[len(args)-1]
		if !slices.Contains(args, "--max-time") || !slices.Contains(args, "--connect-timeout") {
			w.t.Errorf("curl without --connect-timeout and --max-time: %q", args)
		}
		switch {
		case w.imdsDown && strings.HasPrefix(url, "http://169.254.169.254/"):
			w.clock += 2
			return interp.ExitStatus(7)
		case strings.HasSuffix(url, "/api/token"):
			fmt.Fprint(hc.Stdout, "imds-token")
			return nil
		case strings.HasSuffix(url, "/meta-data/instance-id"):
			fmt.Fprint(hc.Stdout, instanceID)
			return nil
		case strings.HasPrefix(url, "http://127.0.0.1:"):
			port, _, _ := strings.Cut(strings.TrimPrefix(url, "http://127.0.0.1:"), "/")
			if w.hang[port] {
				n, err := strconv.Atoi(flag(args, "--max-time"))
				require.NoError(w.t, err)
				w.clock += n
				return interp.ExitStatus(28)
			}
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
		"APPSTACK_CWAGENT_CTL=amazon-cloudwatch-agent-ctl",
		"APPSTACK_CLOUD_DIR=" + filepath.Join(w.dir, "cloud"),
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

// signals parses every value the boot wrote to its readiness parameter.
func (w *world) signals() []readiness.Signal {
	w.t.Helper()
	var out []readiness.Signal
	for _, v := range w.puts {
		s, err := readiness.Parse(v)
		require.NoError(w.t, err, "the boot writes the signal format components/readiness defines")
		out = append(out, s)
	}
	return out
}

// last is the boot's final signal.
func (w *world) last() readiness.Signal {
	w.t.Helper()
	all := w.signals()
	require.NotEmpty(w.t, all)
	return all[len(all)-1]
}

func TestBootHappyPath(t *testing.T) {
	w := newWorld(t)
	s := spec()
	other := "sha256:ffffffffffffffffffffffffffffffff"
	w.others["/appstack/test/app/ready/i-0old"] = "ready " + other + " total=40"
	w.others["/appstack/test/app/ready/i-0failed"] = "failed " + s.Fingerprint() + " total=40 pull x"
	status, out := w.run(s)
	require.Equal(t, 0, status, out)

	assert.Equal(t, 1, w.ran("docker", "pull", digestRef("web", 1)), "pulled once, by digest")
	assert.Equal(t, 1, w.ran("docker", "login", "--username", "AWS", "--password-stdin",
		"123456789012.dkr.ecr.ap-southeast-1.amazonaws.com"))
	assert.Equal(t, 1, w.ran("systemctl", "enable", "--now", "appstack-web.service"))
	assert.Equal(t, 1, w.ran("amazon-cloudwatch-agent-ctl", "-a", "fetch-config"), "the boot log is shipped")
	assert.Equal(t, 1, w.ran("docker", "create", "--name", "appstack-keep-web", digestRef("web", 1)),
		"a stopped container keeps the service's image from the daily prune")

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
		"--log-opt awslogs-group=app-logs --log-opt awslogs-stream=web/"+instanceID+" --log-opt mode=non-blocking "+
		"--log-opt max-buffer-size=4m --log-opt cache-max-size=10m --log-opt cache-max-file=3 "+digestRef("web", 1),
		"the awslogs container's local dual-logging cache rotates 3 × 10 MB")
	daemon, err := os.ReadFile(filepath.Join(w.dir, "docker", "daemon.json"))
	require.NoError(t, err)
	assert.Contains(t, string(daemon), `"max-size": "10m"`, "local logs rotate")
	assert.Contains(t, string(daemon), `"cache-max-size": "10m"`)
	assert.Equal(t, 1, w.ran("systemctl", "restart", "docker"), "Docker rereads daemon.json")
	prune, err := os.ReadFile(filepath.Join(w.dir, "units", "appstack-prune.service"))
	require.NoError(t, err)
	assert.Contains(t, string(prune), "docker image prune -af --filter until=72h")

	signals := w.signals()
	require.Len(t, signals, 2, out)
	assert.Equal(t, readiness.Signal{State: readiness.Booting, Fingerprint: s.Fingerprint()}, signals[0])
	assert.Equal(t, readiness.Ready, signals[1].State)
	assert.Equal(t, s.Fingerprint(), signals[1].Fingerprint)
	var steps []string
	for _, st := range signals[1].Timeline {
		steps = append(steps, st.Name)
	}
	assert.Equal(t, []string{"install", "pull", "secret", "start", "health", "total"}, steps,
		"the ready signal carries every step's duration")
	assert.Equal(t, []string{"/appstack/test/app/ready/" + instanceID, "/appstack/test/app/ready/" + instanceID},
		w.putNames)
	assert.Contains(t, out, "appstack-boot: step pull took 0s")
	assert.Equal(t, []string{"/appstack/test/app/ready/i-0old"}, w.deleted,
		"once ready, the host deletes the other deploys' signals and keeps its fingerprint's attempts")
}

func TestPullFailsTwiceThenSucceeds(t *testing.T) {
	w := newWorld(t)
	w.pullFails = 2
	status, out := w.run(spec())
	require.Equal(t, 0, status, out)
	assert.Equal(t, 3, w.ran("docker", "pull"))
	assert.Equal(t, 1, w.ran("sleep", "2"), "a pause between attempts")
	assert.Equal(t, 1, w.ran("sleep", "4"), "that doubles")
	assert.Equal(t, readiness.Ready, w.last().State)
}

// TestPullAlwaysFails: the retries go on with backoff as long as the deadline allows, then the failure is
// signalled before the deadline.
func TestPullAlwaysFails(t *testing.T) {
	w := newWorld(t)
	w.pullFails = -1
	start := w.clock
	status, out := w.run(spec())
	assert.Equal(t, 1, status)
	assert.Greater(t, w.ran("docker", "pull"), 5, "retried within the deadline")
	last := w.last()
	assert.Equal(t, readiness.Failed, last.State)
	assert.Equal(t, "pull", last.Step)
	assert.Equal(t, "docker pull web failed", last.Reason)
	assert.LessOrEqual(t, w.clock-start, int(host.DefaultBudget.Seconds()), "within the boot's budget")
	assert.Zero(t, w.ran("systemctl", "enable", "--now", "appstack-web.service"), "no service is started")
	assert.Contains(t, out, "FAILED at step pull")
}

func TestServiceNeverReady(t *testing.T) {
	for name, setup := range map[string]func(*world){
		"connection refused":                    func(w *world) { w.neverReady["8080"] = true },
		"accepts connections and never answers": func(w *world) { w.hang["8080"] = true },
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			setup(w)
			start := w.clock
			status, _ := w.run(spec())
			assert.Equal(t, 1, status)
			last := w.last()
			assert.Equal(t, readiness.Failed, last.State)
			assert.Equal(t, "health", last.Step)
			assert.Equal(t, "timeout: web did not answer /health and /ready on port 8080 by the boot deadline (480s)",
				last.Reason)
			assert.LessOrEqual(t, w.clock-start, int(host.DefaultBudget.Seconds()),
				"the wait is wall-clock: the failure is signalled before the gate (readyTimeout) gives up")
			assert.Equal(t, 1, w.ran("systemctl", "enable", "--now", "appstack-web.service"), "left up for inspection")
		})
	}
}

func TestMetadataFailureIsSignalledWithCloudInitsInstanceID(t *testing.T) {
	w := newWorld(t)
	w.imdsDown = true
	require.NoError(t, os.MkdirAll(filepath.Join(w.dir, "cloud"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "cloud", "instance-id"), []byte(instanceID+"\n"), 0o600))
	status, _ := w.run(spec())
	assert.Equal(t, 1, status)
	assert.Equal(t, 5, w.ran("curl", "-sf", "--connect-timeout", "2", "--max-time", "5", "-X", "PUT"),
		"IMDS is tried five times")
	assert.Equal(t, []string{"/appstack/test/app/ready/" + instanceID}, w.putNames)
	assert.Equal(t, "metadata", w.last().Step)

	none := newWorld(t)
	none.imdsDown = true
	status, out := none.run(spec())
	assert.Equal(t, 1, status)
	assert.Empty(t, none.puts, "without any instance id there is no parameter to write")
	assert.Contains(t, out, "could not write the failure signal")
}

func TestMissingSecret(t *testing.T) {
	w := newWorld(t)
	delete(w.secrets, "/appstack/test/app/secrets/JWT_SECRET")
	status, _ := w.run(spec())
	assert.Equal(t, 1, status)
	last := w.last()
	assert.Equal(t, []string{"secret", "cannot read /appstack/test/app/secrets/JWT_SECRET for JWT_SECRET"},
		[]string{last.Step, last.Reason})
	assert.Zero(t, w.ran("systemctl", "enable", "--now", "appstack-web.service"))
}

func TestSecretWithALineBreakIsRefused(t *testing.T) {
	w := newWorld(t)
	w.secrets["/appstack/test/app/secrets/JWT_SECRET"] = "line1\nline2"
	status, _ := w.run(spec())
	assert.Equal(t, 1, status)
	assert.Equal(t, "JWT_SECRET contains a line break", w.last().Reason)
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
	assert.Equal(t, readiness.Ready, w.last().State)
	assert.Equal(t, s.Fingerprint(), w.last().Fingerprint)
}

func TestECSAMIInstallsTheCLIAndRestartsDocker(t *testing.T) {
	w := newWorld(t)
	w.noCLI = true
	s := spec()
	s.ECSAMI = true
	status, out := w.run(s)
	require.Equal(t, 0, status, out)
	assert.Zero(t, w.ran("dnf", "install", "-y", "docker"), "Docker ships with the ECS-optimised AMI")
	assert.Equal(t, 1, w.ran("dnf", "install", "-y", "awscli-2"), "its minimal base has no AWS CLI")
	assert.Equal(t, 1, w.ran("systemctl", "disable", "--now", "ecs"))
	assert.Equal(t, 1, w.ran("systemctl", "restart", "docker"), "Docker already runs: a restart reads daemon.json")
	assert.Equal(t, readiness.Ready, w.last().State)

	plain := newWorld(t)
	status, out = plain.run(spec())
	require.Equal(t, 0, status, out)
	assert.Equal(t, 1, plain.ran("dnf", "install", "-y", "docker"))
	assert.Zero(t, plain.ran("dnf", "install", "-y", "awscli-2"), "AL2023 ships the AWS CLI")
}

func TestAServiceWithoutEnvironmentBoots(t *testing.T) {
	w := newWorld(t)
	s := spec()
	s.Services[0].Env, s.Services[0].Secrets = nil, nil
	status, out := w.run(s)
	require.Equal(t, 0, status, out)
	env, err := os.ReadFile(filepath.Join(w.dir, "etc", "web.env"))
	require.NoError(t, err)
	assert.Empty(t, env)
}

func TestAHungRegistryEndsAtTheDeadlineAndIsStillSignalled(t *testing.T) {
	w := newWorld(t)
	w.pullHangs = true
	start := w.clock
	status, out := w.run(spec())
	assert.Equal(t, 1, status)
	last := w.last()
	assert.Equal(t, []string{"pull", "docker pull web failed"}, []string{last.Step, last.Reason}, out)
	budget := int(host.DefaultBudget.Seconds())
	assert.GreaterOrEqual(t, w.clock-start, budget-5, "the pull was given the whole budget")
	assert.LessOrEqual(t, w.putClock[len(w.putClock)-1]-start, budget,
		"the failure is signalled by the deadline, inside the launch allowance the gate keeps")
}

// The agent's package puts its control script under /opt/aws/amazon-cloudwatch-agent/bin, which is not on PATH.
func TestTheBootCallsTheCloudWatchAgentByItsPath(t *testing.T) {
	script, err := host.RenderBootScript(spec())
	require.NoError(t, err)
	assert.Contains(t, script, "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl")
}
