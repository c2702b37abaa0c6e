package host

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"mvdan.cc/sh/v3/syntax"

	"appstack/components/imageref"
	"appstack/components/readiness"
)

// MaxUserData is EC2's limit on user-data, before base64.
const MaxUserData = 16 * 1024

// DefaultBudget is the boot's budget under the default readyTimeout.
var DefaultBudget = readiness.Budget(readiness.DefaultReadyTimeout)

//go:embed boot.sh.tmpl
var bootTemplate string

// ecrHostRE is an ECR registry host; its images need a login with the instance role.
var ecrHostRE = regexp.MustCompile(`^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

var boot = template.Must(template.New("boot").Funcs(template.FuncMap{"q": quote}).Parse(bootTemplate))

// BootSpec is everything the boot script needs, resolved to plain values.
type BootSpec struct {
	// Region is the host's AWS region.
	Region string
	// LogGroup is the CloudWatch log group the containers and the boot log go to.
	LogGroup string
	// ECSAMI says the host boots the ECS-optimised AMI: Docker is there already, and its ECS agent is stopped.
	ECSAMI bool
	// ReadyPrefix is the SSM parameter path the readiness signal is written under, /<prefix>/<instance id>.
	ReadyPrefix string
	// Attempt numbers the boots of this fingerprint (readiness.Attempt); a new number makes a new host.
	Attempt int
	// Budget is how long the boot may take from its start to its last signal. Default DefaultBudget.
	Budget time.Duration
	// Services are the containers to run.
	Services []BootService
}

// BootService is one container as the boot script runs it.
type BootService struct {
	Name       string
	Image      string
	Port       int
	HealthPath string
	ReadyPath  string
	// Env is plain environment, NAME to value.
	Env map[string]string
	// Secrets maps an environment variable to the SSM parameter that holds its value.
	Secrets map[string]string
	// RegistryLogin logs in to Image's private registry (not ECR) before the pull. Optional.
	RegistryLogin *RegistryLogin
}

// Fingerprint identifies what the spec runs; the host signals it when every service is ready.
func (s BootSpec) Fingerprint() string {
	images := map[string]string{}
	for _, svc := range s.Services {
		images[svc.Name] = svc.Image
	}
	return readiness.Fingerprint(images)
}

type registry struct{ Host, Region string }

// login is one private registry the boot logs in to with a password from SSM.
type login struct{ Host, Username, Parameter string }

type bootService struct {
	BootService
	Env     []string
	Secrets []struct{ Env, Parameter string }
}

// CheckDigest rejects an image reference that is not <repository>@sha256:<64 hex>.
func CheckDigest(service, ref string) error {
	if !imageref.Pinned(ref) {
		return fmt.Errorf("service %q: image reference %q is not pinned by digest (want <repository>@sha256:<64 "+
			"hex>); the registry did not report the pushed image's digest (see pulumi-docker #1015), so the host "+
			"is not changed", service, ref)
	}
	return nil
}

// RenderBootScript renders the boot script for spec. It fails on an image not pinned by digest. Whether the
// script fits EC2's user-data is UserData's question.
func RenderBootScript(spec BootSpec) (string, error) {
	budget := spec.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	if budget < readiness.MinBudget {
		return "", fmt.Errorf("the boot budget %s is under %s", budget, readiness.MinBudget)
	}
	data := struct {
		Region, LogGroup, ReadyPrefix, Fingerprint string
		Attempt, BudgetSeconds                     int
		ECSAMI                                     bool
		Registries                                 []registry
		Logins                                     []login
		Services                                   []bootService
		Booting, Ready, Failed                     string
	}{Region: spec.Region, LogGroup: spec.LogGroup, ReadyPrefix: spec.ReadyPrefix, Fingerprint: spec.Fingerprint(),
		Attempt: spec.Attempt, BudgetSeconds: int(budget / time.Second), ECSAMI: spec.ECSAMI,
		Booting: readiness.Booting, Ready: readiness.Ready, Failed: readiness.Failed}
	seen := map[string]bool{}
	for _, s := range spec.Services {
		if err := CheckDigest(s.Name, s.Image); err != nil {
			return "", err
		}
		host, _, _ := strings.Cut(s.Image, "/")
		if m := ecrHostRE.FindStringSubmatch(host); m != nil && !seen[host] {
			seen[host] = true
			data.Registries = append(data.Registries, registry{host, m[1]})
		}
		if l := s.RegistryLogin; l != nil {
			reg := imageref.Registry(s.Image)
			switch {
			case ecrHostRE.MatchString(reg):
				return "", fmt.Errorf("service %q: %s is ECR, which the host pulls from with its role; it needs "+
					"no registry login", s.Name, reg)
			case l.Username == "" || l.PasswordParameter == "":
				return "", fmt.Errorf("service %q: the registry login needs a user name and a password parameter",
					s.Name)
			}
			i := slices.IndexFunc(data.Logins, func(x login) bool { return x.Host == reg })
			switch {
			case i < 0:
				data.Logins = append(data.Logins, login{reg, l.Username, l.PasswordParameter})
			case data.Logins[i] != login{reg, l.Username, l.PasswordParameter}:
				return "", fmt.Errorf("service %q: registry %s has another login in an earlier service; one host "+
					"logs in to a registry once", s.Name, reg)
			}
		}
		bs := bootService{BootService: s}
		for _, k := range slices.Sorted(maps.Keys(s.Env)) {
			bs.Env = append(bs.Env, k+"="+s.Env[k])
		}
		for _, k := range slices.Sorted(maps.Keys(s.Secrets)) {
			bs.Secrets = append(bs.Secrets, struct{ Env, Parameter string }{k, s.Secrets[k]})
		}
		data.Services = append(data.Services, bs)
	}
	var b strings.Builder
	if err := boot.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering the boot script: %w", err)
	}
	return b.String(), nil
}

// compressAbove is the plain size past which a host's script is gzipped. It sits below MaxUserData because the
// decision is made before the digests and table names are known (see Args.compress).
const compressAbove = MaxUserData - 2048

// GzipUserData compresses a boot script for userDataBase64: cloud-init recognises gzip and unpacks it, so a
// host with many services still fits EC2's 16 KB. It fails when even the compressed script does not fit.
func GzipUserData(script string) (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := zw.Write([]byte(script)); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if buf.Len() > MaxUserData {
		return "", fmt.Errorf("the boot script is %d bytes, %d gzipped; EC2 user-data allows %d", len(script),
			buf.Len(), MaxUserData)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// CheckUserData fails on a plain script larger than EC2 accepts.
func CheckUserData(script string) error {
	if len(script) > MaxUserData {
		return fmt.Errorf("the boot script is %d bytes; EC2 user-data allows %d", len(script), MaxUserData)
	}
	return nil
}

// quote makes s one bash word, whatever it holds.
func quote(s string) (string, error) {
	return syntax.Quote(s, syntax.LangBash)
}
