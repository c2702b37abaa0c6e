package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Env is what the preflight reads from the machine. The zero value reads the real environment.
type Env struct {
	// Getenv reads an environment variable. Default os.Getenv.
	Getenv func(string) string
	// LookPath finds a command on PATH. Default exec.LookPath.
	LookPath func(string) (string, error)
	// DockerSocket is the socket tried when DOCKER_HOST is unset. Default /var/run/docker.sock.
	DockerSocket string
}

func (e Env) get(key string) string {
	if e.Getenv == nil {
		return os.Getenv(key)
	}
	return e.Getenv(key)
}

func (e Env) home() string {
	if h := e.get("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// Missing is one prerequisite the suite lacks, with what was checked and how to provide it.
type Missing struct {
	// What names the prerequisite: AWS credentials, a Pulumi backend, a Docker engine, the Pulumi CLI.
	What string
	// Why says what was checked and how to provide it.
	Why string
}

// Preflight checks the suite's prerequisites without calling AWS: credentials in one of the standard sources,
// a Pulumi backend, a Docker engine for the image build, and the Pulumi CLI. It returns what is missing and,
// for the credentials found, where they come from.
func Preflight(ctx context.Context, env Env, o Options) (source string, missing []Missing) {
	source, why := AWSCredentialSource(ctx, env)
	if source == "" {
		missing = append(missing, Missing{"AWS credentials", why})
	}
	if why, ok := pulumiBackend(env); !ok {
		missing = append(missing, Missing{"a Pulumi backend", why})
	}
	if why, ok := dockerEngine(ctx, env); !ok {
		missing = append(missing, Missing{"a Docker engine (the deploy builds the service images)", why})
	}
	if o.PulumiVersion == "" && env.get("APPSTACK_PULUMI_ROOT") == "" {
		look := env.LookPath
		if look == nil {
			look = exec.LookPath
		}
		if _, err := look("pulumi"); err != nil {
			missing = append(missing, Missing{"the Pulumi CLI",
				"pulumi is not on PATH and APPSTACK_PULUMI_ROOT is not set; run `go run ./cmd/stackctl install-cli` " +
					"and set APPSTACK_PULUMI_ROOT to the root it prints, or pass -pulumi-version"})
		}
	}
	return source, missing
}

// AWSCredentialSource names the first standard AWS credential source that is configured, in the SDK's order
// (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html): environment keys, a web
// identity token, container credentials, then the shared config and credentials files' profile. It reads no
// network: an EC2 instance role is not probed. With none, it returns "" and what it checked.
func AWSCredentialSource(ctx context.Context, env Env) (string, string) {
	switch {
	case env.get("AWS_ACCESS_KEY_ID") != "" && env.get("AWS_SECRET_ACCESS_KEY") != "":
		return "environment (AWS_ACCESS_KEY_ID)", ""
	case env.get("AWS_WEB_IDENTITY_TOKEN_FILE") != "" && env.get("AWS_ROLE_ARN") != "":
		return "web identity (AWS_ROLE_ARN " + env.get("AWS_ROLE_ARN") + ")", ""
	case env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" || env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "":
		return "container credentials (AWS_CONTAINER_CREDENTIALS_*_URI)", ""
	}
	profile := env.get("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	configFile := env.get("AWS_CONFIG_FILE")
	if configFile == "" {
		configFile = filepath.Join(env.home(), ".aws", "config")
	}
	credsFile := env.get("AWS_SHARED_CREDENTIALS_FILE")
	if credsFile == "" {
		credsFile = filepath.Join(env.home(), ".aws", "credentials")
	}
	checked := fmt.Sprintf("none of AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE with "+
		"AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI is set, and profile %q has no credentials "+
		"in %s or %s (an EC2 instance role is not probed: export its credentials with "+
		"`eval \"$(aws configure export-credentials --format env)\"`)", profile, configFile, credsFile)
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{configFile}
		o.CredentialsFiles = []string{credsFile}
	})
	if err != nil {
		var notExist awsconfig.SharedConfigProfileNotExistError
		if errors.As(err, &notExist) {
			return "", checked
		}
		return "", fmt.Sprintf("profile %q cannot be read: %v", profile, err)
	}
	if sc.Credentials.HasKeys() || sc.RoleARN != "" || sc.SSOSessionName != "" || sc.SSOStartURL != "" ||
		sc.CredentialProcess != "" || sc.WebIdentityTokenFile != "" {
		return fmt.Sprintf("profile %q (shared config files)", profile), ""
	}
	return "", checked
}

// pulumiBackend finds the backend the Automation API will use: PULUMI_BACKEND_URL, or the one `pulumi login`
// stored as "current" in $PULUMI_HOME/credentials.json (default ~/.pulumi).
func pulumiBackend(env Env) (string, bool) {
	if env.get("PULUMI_BACKEND_URL") != "" {
		return "", true
	}
	home := env.get("PULUMI_HOME")
	if home == "" {
		home = filepath.Join(env.home(), ".pulumi")
	}
	path := filepath.Join(home, "credentials.json")
	why := fmt.Sprintf("PULUMI_BACKEND_URL is unset and %s names no current backend; set PULUMI_BACKEND_URL "+
		"(such as the bootstrap's stateBucket, s3://...) or run pulumi login", path)
	raw, err := os.ReadFile(path)
	if err != nil {
		return why, false
	}
	var creds struct {
		Current string `json:"current"`
	}
	if json.Unmarshal(raw, &creds) != nil || creds.Current == "" {
		return why, false
	}
	return "", true
}

// dockerEngine asks the engine at DOCKER_HOST (or the default socket) for /_ping, the Docker Engine API's
// health endpoint (https://docs.docker.com/reference/api/engine/). A tcp:// or ssh:// DOCKER_HOST is taken as
// given: the image build reports its own error there.
func dockerEngine(ctx context.Context, env Env) (string, bool) {
	socket := env.DockerSocket
	if socket == "" {
		socket = "/var/run/docker.sock"
	}
	if host := env.get("DOCKER_HOST"); host != "" {
		path, ok := strings.CutPrefix(host, "unix://")
		if !ok {
			return "", true
		}
		socket = path
	}
	why := func(err error) string {
		return fmt.Sprintf("no Docker engine answers on %s (%v); start Docker or set DOCKER_HOST", socket, err)
	}
	if _, err := os.Stat(socket); err != nil {
		return why(err), false
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return why(err), false
	}
	resp, err := client.Do(req)
	if err != nil {
		return why(err), false
	}
	_ = resp.Body.Close() // the status is all we read
	if resp.StatusCode != http.StatusOK {
		return why(fmt.Errorf("/_ping answered HTTP %d", resp.StatusCode)), false
	}
	return "", true
}

// SkipMessage explains a skip: what is missing, and that nothing was created.
func SkipMessage(missing []Missing) string {
	var b strings.Builder
	b.WriteString("e2e: SKIPPED: the end-to-end test deploys to a real AWS account, and this machine lacks:\n")
	for _, m := range missing {
		fmt.Fprintf(&b, "  - %s: %s\n", m.What, m.Why)
	}
	b.WriteString("Nothing was created. docs/e2e.md says how to run it; -require makes a skip fail.\n")
	return b.String()
}

// Prerequisites decides whether the suite runs. Without a prerequisite it prints the skip message to w and
// returns proceed false: a nil error (a skip), or with o.Require an error. With them all it asks identity (STS
// GetCallerIdentity, bounded) who the credentials are, so that bad credentials fail before anything is created;
// identity is never called without credentials.
func Prerequisites(ctx context.Context, env Env, o Options, w io.Writer,
	identity func(context.Context) (string, error)) (who string, proceed bool, err error) {
	source, missing := Preflight(ctx, env, o)
	if len(missing) > 0 {
		fmt.Fprint(w, SkipMessage(missing))
		if o.Require {
			return "", false, errors.New("-require: a prerequisite is missing")
		}
		return "", false, nil
	}
	who, err = identity(ctx)
	if err != nil {
		return "", false, fmt.Errorf("AWS credentials from %s do not work: %w", source, err)
	}
	return who + " (credentials: " + source + ")", true, nil
}
