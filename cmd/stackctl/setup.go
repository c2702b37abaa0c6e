package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"gopkg.in/yaml.v3"

	"appstack/internal/lifecycle"
	"appstack/internal/project"
)

// setupStacks are the committed stacks setup creates, each with the bootstrap's secrets provider of its
// environment (the output <env>SecretsProvider). Review stacks are created by the review-stack workflow with
// the review environment's PULUMI_SECRETS_PROVIDER.
var setupStacks = []string{"staging", "production"}

// bootstrapOutputs are the bootstrap outputs setup reads: none may be empty.
var bootstrapOutputs = []string{"stateBucket", "stagingSecretsProvider", "productionSecretsProvider",
	"reviewSecretsProvider"}

// setupFlags declares setup's flags on fs.
func setupFlags(fs *flag.FlagSet) (dir, bootstrap, bootstrapStack, bootstrapBackend, cliVersion *string) {
	dir = fs.String("dir", ".", "project directory (Pulumi.yaml and the stack files the set-up writes)")
	bootstrap = fs.String("bootstrap", "bootstrap", "the bootstrap's project directory, relative to -dir")
	bootstrapStack = fs.String("bootstrap-stack", "main", "the bootstrap's stack")
	bootstrapBackend = fs.String("bootstrap-backend", "", "the bootstrap's backend URL (default: the one "+
		"bootstrap/Pulumi.yaml names)")
	cliVersion = fs.String("pulumi-version", project.PulumiVersion, "Pulumi CLI version to install if missing "+
		"(Automation API), unless $APPSTACK_PULUMI_ROOT names one")
	return
}

// setup creates the committed stacks in the bootstrap's state bucket, each with its environment's KMS secrets
// provider, from the bootstrap's outputs: read once, every value checked, so that an empty output can never
// turn into a passphrase stack. A stack that already exists with the right provider is left as it is.
func setup(ctx context.Context, args []string, stdout io.Writer, m *lifecycle.Manager) error {
	fs := flag.NewFlagSet("stackctl setup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir, bootstrap, bootstrapStack, bootstrapBackend, cliVersion := setupFlags(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return printCommandHelp(stdout, "setup", fs, true)
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: stackctl setup takes no arguments, got %q", errUsage, fs.Args())
	}
	version, err := semver.ParseTolerant(*cliVersion)
	if err != nil {
		return fmt.Errorf("%w: -pulumi-version %q: %v", errUsage, *cliVersion, err)
	}
	if err := useCLI(ctx, m, version); err != nil {
		return err
	}
	ws, err := auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(*dir)}, m.Options...)...)
	if err != nil {
		return err
	}
	s := &setupRun{ctx: ctx, cmd: ws.PulumiCommand(), dir: *dir, out: stdout}
	for k, v := range ws.GetEnvVars() {
		s.env = append(s.env, k+"="+v)
	}
	if home := ws.PulumiHome(); home != "" {
		s.env = append(s.env, "PULUMI_HOME="+home)
	}
	outs, err := s.readBootstrap(filepath.Join(*dir, *bootstrap), *bootstrapStack, *bootstrapBackend)
	if err != nil {
		return err
	}
	return s.createStacks(outs)
}

// setupRun runs the Pulumi CLI for setup.
type setupRun struct {
	ctx context.Context
	cmd auto.PulumiCommand
	dir string
	env []string
	out io.Writer
}

// pulumi runs the CLI in dir with backend as PULUMI_BACKEND_URL ("" leaves the choice to the project file and
// the login) and returns its standard output.
func (s *setupRun) pulumi(dir, backend string, args ...string) (string, error) {
	env := append(append([]string{}, s.env...), "PULUMI_BACKEND_URL="+backend, "PULUMI_SKIP_UPDATE_CHECK=true")
	stdout, stderr, _, err := s.cmd.Run(s.ctx, dir, nil, nil, nil, env, args...)
	if err != nil {
		return "", fmt.Errorf("pulumi %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr+"\n"+stdout))
	}
	return stdout, nil
}

// readBootstrap reads the bootstrap's outputs once, from its own backend, and refuses any that is missing or
// empty, naming it.
func (s *setupRun) readBootstrap(dir, stack, backend string) (map[string]string, error) {
	raw, err := s.pulumi(dir, backend, "stack", "output", "--json", "--stack", stack)
	if err != nil {
		return nil, fmt.Errorf("reading the bootstrap's outputs (stack %s in %s; run the bootstrap first, "+
			"README \"Setting up a repository from zero\" step 1): %w", stack, dir, err)
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		return nil, fmt.Errorf("the bootstrap's outputs (stack %s): %w", stack, err)
	}
	outs := map[string]string{}
	var problems []string
	for _, name := range bootstrapOutputs {
		v, _ := all[name].(string)
		if strings.TrimSpace(v) == "" {
			problems = append(problems, fmt.Sprintf("the bootstrap's output %s is missing or empty", name))
			continue
		}
		outs[name] = v
	}
	for _, env := range append(append([]string{}, setupStacks...), "review") {
		name := env + "SecretsProvider"
		if v, ok := outs[name]; ok {
			if err := checkKMSProvider(env, v); err != nil {
				problems = append(problems, fmt.Sprintf("the bootstrap's output %s: %v", name, err))
			}
		}
	}
	if v, ok := outs["stateBucket"]; ok && !strings.Contains(v, "://") {
		problems = append(problems, fmt.Sprintf("the bootstrap's output stateBucket: %q is not a backend URL "+
			"such as s3://bucket", v))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s (stack %s in %s: run its pulumi up again)", strings.Join(problems, "; "),
			stack, dir)
	}
	return outs, nil
}

// checkKMSProvider accepts only the awskms:// provider of env's own key (the bootstrap's
// alias/appstack-secrets-<env>): an empty, passphrase or other environment's provider is refused.
func checkKMSProvider(env, provider string) error {
	u, err := url.Parse(provider)
	if err != nil || u.Scheme != "awskms" || !strings.HasSuffix(u.Host+u.Path, "-"+env) {
		return fmt.Errorf("%q is not the awskms://alias/...-%s secrets provider of the %s key", provider, env, env)
	}
	return nil
}

// createStacks logs in to the state bucket's backend and creates each stack of setupStacks that it lacks with
// its environment's provider; it says which stacks it created and which were already right.
func (s *setupRun) createStacks(outs map[string]string) error {
	bucket := outs["stateBucket"]
	// The first login writes the backend's .pulumi/meta.yaml, which no CI role may write; it also leaves the
	// maintainer logged in there for the pulumi config set --secret that follows.
	if _, err := s.pulumi(s.dir, "", "login", bucket); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "logged in to %s\n", bucket)
	raw, err := s.pulumi(s.dir, bucket, "stack", "ls", "--json")
	if err != nil {
		return err
	}
	var listed []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(raw), &listed); err != nil {
		return fmt.Errorf("pulumi stack ls --json: %w", err)
	}
	exists := map[string]bool{}
	for _, st := range listed {
		exists[st.Name[strings.LastIndex(st.Name, "/")+1:]] = true
	}
	created := 0
	for _, name := range setupStacks {
		want := outs[name+"SecretsProvider"]
		file := filepath.Join(s.dir, "Pulumi."+name+".yaml")
		if exists[name] {
			if err := checkStackFileProvider(file, name, want); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s: exists in %s with secrets provider %s: unchanged\n", name, bucket, want)
			continue
		}
		if _, err := s.pulumi(s.dir, bucket, "stack", "init", name, "--secrets-provider", want); err != nil {
			return fmt.Errorf("creating stack %s: %w", name, err)
		}
		if err := checkStackFileProvider(file, name, want); err != nil {
			return err
		}
		created++
		fmt.Fprintf(s.out, "%s: created in %s with secrets provider %s\n", name, bucket, want)
	}
	if created == 0 {
		fmt.Fprintln(s.out, "nothing changed: every stack exists with its secrets provider")
	} else {
		fmt.Fprintf(s.out, "commit the secretsprovider: and encryptedkey: lines of Pulumi.%s.yaml\n",
			strings.Join(setupStacks, ".yaml and Pulumi."))
	}
	fmt.Fprintf(s.out, "review stacks are created by the review-stack workflow with the review environment's "+
		"PULUMI_SECRETS_PROVIDER=%s\n", outs["reviewSecretsProvider"])
	return nil
}

// checkStackFileProvider checks that a stack's file names want as its secrets provider with its encrypted data
// key, and no passphrase salt: what every runner needs to decrypt the stack's secrets.
func checkStackFileProvider(file, stack, want string) error {
	var s struct {
		SecretsProvider string `yaml:"secretsprovider"`
		EncryptedKey    string `yaml:"encryptedkey"`
		EncryptionSalt  string `yaml:"encryptionsalt"`
	}
	raw, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := yaml.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	switch {
	case s.SecretsProvider == want && s.EncryptedKey != "" && s.EncryptionSalt == "":
		return nil
	case s.SecretsProvider == "" && s.EncryptedKey == "" && s.EncryptionSalt == "":
		return fmt.Errorf("stack %s exists in the backend but %s names no secrets provider: commit the file "+
			"written by whoever created the stack, or remove the empty stack (pulumi stack rm %s) and run "+
			"stackctl setup again", stack, filepath.Base(file), stack)
	default:
		have := s.SecretsProvider
		if have == "" || s.EncryptionSalt != "" {
			have = "passphrase"
		}
		return fmt.Errorf("stack %s has the secrets provider %s in %s, not %s: run pulumi stack "+
			"change-secrets-provider '%s' -s %s and commit both lines it writes", stack, have, filepath.Base(file),
			want, want, stack)
	}
}
