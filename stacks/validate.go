package stacks

import (
	"fmt"
	"maps"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"appstack/components/imageref"
	"appstack/components/instancetype"
	"appstack/components/readiness"
)

var (
	serviceNameRE  = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$`)
	envNameRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretNameRE   = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	attributeRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,255}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	vpcIDRE        = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	policyArnRE    = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::\d{12}:policy/[\w+=,.@/-]{1,512}$`)
	subnetIDRE     = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	instanceTypeRE = regexp.MustCompile(`^([a-z]+)(\d+)([a-z0-9-]*)\.(nano|micro|small|medium|large|xlarge|\d+xlarge|metal(-\d+xl)?)$`)
)

// logRetentionDays are the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
	2557, 2922, 3288, 3653}

// reservedPorts may never be service ports: opening them would open remote shell access (SSH, RDP).
var reservedPorts = map[int]string{22: "SSH", 3389: "RDP"}

// ReservedEnvPrefix starts the environment variables appstack sets itself; services may not set them.
const ReservedEnvPrefix = "APPSTACK_"

// problems returns every problem in c, each naming its key. dir resolves build contexts.
func (c *Config) problems(dir string) []string {
	v := validator{}
	if !isEnvironment(c.Environment) {
		v.addf(key("environment"), "%q is not an environment; want one of %s", c.Environment, joinEnvs())
	}
	if !regionRE.MatchString(c.Region) {
		v.addf(RegionKey, "%q is not an AWS region", c.Region)
	}
	v.secrets(c.SecretNames)
	v.services(c, dir)
	v.tables(c.Tables)
	v.instance(c.Instance)
	v.waivers(c.Waivers)
	_, publicWaived := c.Waived(PublicIngressRule)
	v.ingress(c.IngressCidrs, publicWaived)
	v.placement(c.VpcID, c.SubnetID)
	v.frontDoor(c)
	v.fleet(c)
	v.adoptions(c)
	if c.KeepImages < 1 || c.KeepImages > 1000 {
		v.addf(key("keepImages"), "%d is out of range; want 1 to 1000", c.KeepImages)
	}
	switch {
	case c.ReadyTimeout < readiness.MinReadyTimeout:
		v.addf(key("readyTimeout"), "%s is too short: the boot gets the ready timeout minus a %s launch allowance "+
			"and needs at least %s; want %s to 1h", c.ReadyTimeout, readiness.LaunchAllowance, readiness.MinBudget,
			readiness.MinReadyTimeout)
	case c.ReadyTimeout > time.Hour:
		v.addf(key("readyTimeout"), "%s is out of range; want %s to 1h", c.ReadyTimeout, readiness.MinReadyTimeout)
	}
	if !c.ExpiresAt.IsZero() && c.Environment != Ephemeral {
		v.addf(key("expiresAt"), "only ephemeral stacks expire; this one is %s", c.Environment)
	}
	if c.AlarmEmail != "" {
		if a, err := mail.ParseAddress(c.AlarmEmail); err != nil || a.Address != c.AlarmEmail {
			v.addf(key("alarmEmail"), "%q is not an email address", c.AlarmEmail)
		}
	}
	if c.PermissionsBoundary != "" && !policyArnRE.MatchString(c.PermissionsBoundary) {
		v.addf(key("permissionsBoundary"), "%q is not an IAM managed policy ARN such as "+
			"arn:aws:iam::123456789012:policy/appstack/appstack-host-boundary; leave it unset for the bootstrap's "+
			"boundary in the stack's account", c.PermissionsBoundary)
	}
	if !slices.Contains(logRetentionDays, c.LogRetentionDays) {
		v.addf(key("logRetentionDays"), "%d is not a CloudWatch Logs retention period; want one of %v",
			c.LogRetentionDays, logRetentionDays)
	}
	return v.problems
}

type validator struct {
	problems []string
}

func (v *validator) addf(k, format string, args ...any) {
	v.problems = append(v.problems, k+": "+fmt.Sprintf(format, args...))
}

func (v *validator) secrets(names []string) {
	for _, n := range names {
		switch {
		case !secretNameRE.MatchString(n):
			v.addf(key("secrets", n), "secret names become environment variables; want upper case, digits and _")
		case strings.HasPrefix(n, ReservedEnvPrefix):
			v.addf(key("secrets", n), "the %s prefix is reserved for variables appstack sets", ReservedEnvPrefix)
		}
	}
}

// UnusedSecrets warns of each secret that no service receives, naming its key. It is a warning, not an error:
// the deploy works and a secret may be set before the change that uses it, but it is stored all the same, and
// the likely cause is a service that should list it in its secrets and so runs without it.
func (c *Config) UnusedSecrets() []string {
	used := map[string]bool{}
	for _, s := range c.Services {
		for _, name := range s.Secrets {
			used[name] = true
		}
		if s.RegistryAuth != nil {
			used[s.RegistryAuth.PasswordSecret] = true
		}
	}
	var warnings []string
	for _, n := range c.SecretNames {
		if !used[n] {
			warnings = append(warnings, fmt.Sprintf("%s: set, but no service uses it: list it in the secrets of "+
				"the service that needs it (appstack:services[].secrets), or remove it (pulumi config rm --path "+
				"'appstack:secrets.%s')", key("secrets", n), n))
		}
	}
	return warnings
}

func (v *validator) services(c *Config, dir string) {
	if len(c.Services) == 0 {
		v.addf(key("services"), "at least one service is required")
	}
	names := map[string]int{}
	ports := map[int]int{}
	for i, s := range c.Services {
		v.name("services", i, s.Name, names)
		v.port(i, s.Port, ports)
		v.path(key("services", i, "healthPath"), s.HealthPath)
		v.path(key("services", i, "readyPath"), s.ReadyPath)
		v.source(i, s, dir)
		v.registryAuth(i, s, c.SecretNames)
		v.env(i, s)
		for j, ref := range s.Secrets {
			k := key("services", i, "secrets", j)
			switch {
			case !slices.Contains(c.SecretNames, ref):
				v.addf(k, "%s is not set in appstack:secrets (pulumi config set --secret --path "+
					"'appstack:secrets.%s' VALUE)", ref, ref)
			case slices.Index(s.Secrets, ref) != j:
				v.addf(k, "%s is listed twice", ref)
			}
		}
	}
}

// name checks the name of element i of a list (services, tables): its form, and that no earlier element has it.
// seen maps each name to its index plus one.
func (v *validator) name(list string, i int, name string, seen map[string]int) {
	switch {
	case !serviceNameRE.MatchString(name):
		v.addf(key(list, i, "name"), "%q: want 1-32 lower-case letters, digits and -, starting with a letter", name)
	case seen[name] > 0:
		v.addf(key(list, i, "name"), "%q is already the name of %s[%d]", name, list, seen[name]-1)
	case list == "services" && stackNamedPrefix(name) != "":
		// A target group from before every group carried its stack's name is <service>-<hash>. The deploy roles
		// attach Auto Scaling groups only to target groups named for their own stacks (bootstrap FleetPolicy),
		// so such a group of a service named pr-… would be one a review stack's fleet could serve.
		v.addf(key(list, i, "name"), "%q starts with %q, the name of a stack's target groups: choose another name",
			name, stackNamedPrefix(name))
	default:
		seen[name] = i + 1
	}
}

// stackNamedPrefix is the stack name prefix a service name starts with (pr-, staging-, production-), or "".
func stackNamedPrefix(name string) string {
	for _, p := range []string{"pr-", "staging-", "production-"} {
		if strings.HasPrefix(name, p) {
			return p
		}
	}
	return ""
}

func (v *validator) port(i, port int, seen map[int]int) {
	k := key("services", i, "port")
	switch {
	case port < 1 || port > 65535:
		v.addf(k, "%d is not a TCP port", port)
	case reservedPorts[port] != "":
		v.addf(k, "%d is the %s port: remote shell access is never opened (use SSM Session Manager)", port,
			reservedPorts[port])
	case port < 1024:
		v.addf(k, "%d is a privileged port that a non-root container cannot bind; want 1024-65535", port)
	case seen[port] > 0:
		v.addf(k, "%d is already the port of services[%d]", port, seen[port]-1)
	default:
		seen[port] = i + 1
	}
}

func (v *validator) path(k, p string) {
	switch {
	case !strings.HasPrefix(p, "/"):
		v.addf(k, "%q must start with /", p)
	case len(p) > 256:
		v.addf(k, "longer than 256 characters")
	case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		v.addf(k, "%q contains a space or control character", p)
	}
}

func (v *validator) source(i int, s Service, dir string) {
	switch {
	case s.Build == nil && s.Image == "":
		v.addf(key("services", i), "set build (a Dockerfile to build) or image (a prebuilt image)")
	case s.Build != nil && s.Image != "":
		v.addf(key("services", i), "set build or image, not both")
	case s.Image != "":
		if !imageref.Pinned(s.Image) {
			v.addf(key("services", i, "image"), "%q is not pinned by digest; want name@sha256:<64 hex> so that "+
				"every host runs the same image (docker buildx imagetools inspect prints the digest)", s.Image)
		}
	default:
		v.build(i, s.Build, dir)
	}
}

// Physical names of adopted resources follow AWS's rules for that resource, not appstack's logical names:
//   - DynamoDB table names are 3-255 characters of a-z, A-Z, 0-9, _, - and .
//     (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html);
//   - ECR repository names are 2-256 characters, lower-case path components joined by . _ - and separated by /
//     (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html, repositoryName);
//   - an Elastic IP is adopted by its allocation id, eipalloc- and 8 or 17 hex digits.
var (
	tableNameRE      = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	repositoryNameRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	allocationIDRE   = regexp.MustCompile(`^eipalloc-(?:[0-9a-f]{8}|[0-9a-f]{17})$`)
)

// adoptions checks what the stack adopts instead of creating: physical names by AWS's rules, each adopted once,
// and the stated settings.
func (v *validator) adoptions(c *Config) {
	if c.Environment == Ephemeral {
		v.ephemeralAdoptions(c)
		return
	}
	if c.AdoptAddress != "" && !allocationIDRE.MatchString(c.AdoptAddress) {
		v.addf(key("adoptAddress"), "%q is not an Elastic IP allocation id such as eipalloc-0123456789abcdef0 "+
			"(aws ec2 describe-addresses --public-ips <address>)", c.AdoptAddress)
	}
	tables := map[string]int{}
	for i, t := range c.Tables {
		a := t.Adopt
		if a == nil {
			continue
		}
		k := key("tables", i, "adopt")
		switch {
		case !tableNameRE.MatchString(a.Name):
			v.addf(k+".name", "%q: a DynamoDB table name is 3-255 of a-z, A-Z, 0-9, _, - and .", a.Name)
		case tables[a.Name] > 0:
			v.addf(k+".name", "%q is already adopted by tables[%d]", a.Name, tables[a.Name]-1)
		default:
			tables[a.Name] = i + 1
		}
		if a.Encryption != StackKeyEncryption && a.Encryption != AWSOwnedEncryption {
			v.addf(k+".encryption", "%q: want %s or %s (what the table has now)", a.Encryption, StackKeyEncryption,
				AWSOwnedEncryption)
		}
		v.tableAdoption(k, t, a)
	}
	repos := map[string]int{}
	for i, s := range c.Services {
		a := s.AdoptRepository
		if a == nil {
			continue
		}
		k := key("services", i, "adoptRepository")
		switch {
		case len(a.Name) < 2 || len(a.Name) > 256 || !repositoryNameRE.MatchString(a.Name):
			v.addf(k+".name", "%q: an ECR repository name is 2-256 characters of lower-case letters and digits, "+
				"joined by . _ - and separated by /", a.Name)
		case repos[a.Name] > 0:
			v.addf(k+".name", "%q is already adopted by services[%d]", a.Name, repos[a.Name]-1)
		default:
			repos[a.Name] = i + 1
		}
		if a.Mutability != "" && a.Mutability != "IMMUTABLE" && a.Mutability != "MUTABLE" {
			v.addf(k+".mutability", "%q: want IMMUTABLE or MUTABLE, or leave it out to keep what the repository "+
				"has", a.Mutability)
		}
		if a.Encryption != "KMS" && a.Encryption != "AES256" {
			v.addf(k+".encryption", "%q: want KMS or AES256 (what the repository has now; ECR cannot change it)",
				a.Encryption)
		}
	}
}

// ephemeralAdoptions rejects every adoption key in a throw-away stack (see adoptionKeys).
func (v *validator) ephemeralAdoptions(c *Config) {
	const why = "an ephemeral stack never adopts an existing resource: it would take over another stack's; " +
		"stackctl review drops the adoption keys when it copies a base stack"
	if c.AdoptAddress != "" {
		v.addf(key("adoptAddress"), why)
	}
	for i, t := range c.Tables {
		if t.Adopt != nil {
			v.addf(key("tables", i, "adopt"), why)
		}
	}
	for i, s := range c.Services {
		if s.AdoptRepository != nil {
			v.addf(key("services", i, "adoptRepository"), why)
		}
	}
}

// ecrRegistryRE is an ECR registry host, whose images the host pulls with its role.
var ecrRegistryRE = regexp.MustCompile(`^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// registryAuth checks a service's pull credential for a private registry other than ECR.
func (v *validator) registryAuth(i int, s Service, secrets []string) {
	a := s.RegistryAuth
	if a == nil {
		return
	}
	k := key("services", i, "registryAuth")
	switch {
	case s.Image == "":
		v.addf(k, "only for a prebuilt image: a built image goes to the service's ECR repository, which the host "+
			"pulls with its role")
	case ecrRegistryRE.MatchString(imageref.Registry(s.Image)):
		v.addf(k, "%s is an ECR registry, which the host pulls from with its role; remove registryAuth",
			imageref.Registry(s.Image))
	}
	switch {
	case a.Username == "":
		v.addf(k+".username", "not set")
	case strings.ContainsFunc(a.Username, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(a.Username) > 256:
		v.addf(k+".username", "%q: want up to 256 characters without spaces or control characters", a.Username)
	}
	switch {
	case a.PasswordSecret == "":
		v.addf(k+".passwordSecret", "not set: name the entry of appstack:secrets that holds the registry's "+
			"password or token")
	case !slices.Contains(secrets, a.PasswordSecret):
		v.addf(k+".passwordSecret", "%s is not set in appstack:secrets (pulumi config set --secret --path "+
			"'appstack:secrets.%s' TOKEN)", a.PasswordSecret, a.PasswordSecret)
	}
}

func (v *validator) build(i int, b *Build, dir string) {
	if b.Context == "" {
		v.addf(key("services", i, "build", "context"), "not set")
		return
	}
	if filepath.IsAbs(b.Context) || filepath.IsAbs(b.Dockerfile) {
		v.addf(key("services", i, "build"), "paths must be relative to the project so that every machine "+
			"builds the same inputs")
		return
	}
	if st, err := os.Stat(filepath.Join(dir, b.Context)); err != nil || !st.IsDir() {
		v.addf(key("services", i, "build", "context"), "%q is not a directory in the project", b.Context)
	} else if st, err := os.Stat(filepath.Join(dir, b.Dockerfile)); err != nil || st.IsDir() {
		v.addf(key("services", i, "build", "dockerfile"), "%q is not a file in the project", b.Dockerfile)
	}
	for _, name := range slices.Sorted(maps.Keys(b.Args)) {
		if !envNameRE.MatchString(name) {
			v.addf(key("services", i, "build", "args", name), "not a valid build argument name")
		}
	}
}

func (v *validator) env(i int, s Service) {
	for _, name := range slices.Sorted(maps.Keys(s.Env)) {
		k := key("services", i, "env", name)
		switch {
		case !envNameRE.MatchString(name):
			v.addf(k, "not a valid environment variable name")
		case strings.HasPrefix(name, ReservedEnvPrefix) || name == "PORT":
			v.addf(k, "%s is set by appstack", name)
		case slices.Contains(s.Secrets, name):
			v.addf(k, "%s is also one of the service's secrets", name)
		case strings.ContainsAny(s.Env[name], "\n\r\x00"):
			v.addf(k, "values cannot contain line breaks or NUL")
		}
	}
}

func (v *validator) tables(tables []Table) {
	names := map[string]int{}
	for i, t := range tables {
		v.name("tables", i, t.Name, names)
		v.attribute(key("tables", i, "hashKey"), t.HashKey, true)
		v.keyType(key("tables", i, "hashKeyType"), t.HashKeyType)
		if t.RangeKey != "" {
			v.attribute(key("tables", i, "rangeKey"), t.RangeKey, true)
			v.keyType(key("tables", i, "rangeKeyType"), t.RangeKeyType)
			if t.RangeKey == t.HashKey {
				v.addf(key("tables", i, "rangeKey"), "%q is also the hash key", t.RangeKey)
			}
		} else if t.RangeKeyType != "" {
			v.addf(key("tables", i, "rangeKeyType"), "set without rangeKey")
		}
		if t.TTLAttribute != "" {
			v.attribute(key("tables", i, "ttlAttribute"), t.TTLAttribute, false)
			if t.TTLAttribute == t.HashKey || t.TTLAttribute == t.RangeKey {
				v.addf(key("tables", i, "ttlAttribute"), "%q is a key attribute; TTL needs a non-key Number "+
					"attribute", t.TTLAttribute)
			}
		}
	}
}

func (v *validator) attribute(k, name string, required bool) {
	if name == "" {
		if required {
			v.addf(k, "not set")
		}
		return
	}
	if !attributeRE.MatchString(name) {
		v.addf(k, "%q: want 1-255 letters, digits, _, - and .", name)
	}
}

func (v *validator) keyType(k, t string) {
	if t != "S" && t != "N" && t != "B" {
		v.addf(k, "%q: want S (string), N (number) or B (binary)", t)
	}
}

func (v *validator) instance(in Instance) {
	m := instanceTypeRE.FindStringSubmatch(in.Type)
	switch {
	case m == nil && instanceTypeRE.MatchString(strings.Replace(in.Type, "-", ".", 1)):
		v.addf(key("instance", "type"), "%q is not an EC2 instance type (did you mean %q?)", in.Type,
			strings.Replace(in.Type, "-", ".", 1))
	case m == nil:
		v.addf(key("instance", "type"), "%q is not an EC2 instance type (such as t3.small or t4g.small)", in.Type)
	case instancetype.Unrunnable(in.Type) != "":
		v.addf(key("instance", "type"), "%s", instancetype.Unrunnable(in.Type))
	case in.Arch != X86_64 && in.Arch != ARM64:
		v.addf(key("instance", "arch"), "%q: want x86_64 or arm64", in.Arch)
	case isGraviton(m[1], m[2], m[3]) != (in.Arch == ARM64):
		want := X86_64
		if isGraviton(m[1], m[2], m[3]) {
			want = ARM64
		}
		v.addf(key("instance", "arch"), "%s does not match instance type %s, which is %s", in.Arch, in.Type, want)
	}
	if in.AMI != "al2023" && in.AMI != "ecs-al2023" {
		v.addf(key("instance", "ami"), "%q: want al2023 or ecs-al2023", in.AMI)
	}
	if least, ok := MinRootVolumeGiB[in.AMI]; ok && (in.RootVolumeGiB < least || in.RootVolumeGiB > 16384) {
		v.addf(key("instance", "rootVolumeGiB"), "%d: want %d to 16384 (the %s AMI's root snapshot is %d GiB, "+
			"and EC2 refuses a smaller volume)", in.RootVolumeGiB, least, in.AMI, least)
	}
}

// isGraviton reports whether an instance family is arm64: a "g" after the generation (t4g, c7gd, im4gn) or
// the first-generation a1.
func isGraviton(prefix, generation, suffix string) bool {
	return strings.Contains(suffix, "g") || (prefix == "a" && generation == "1")
}

func (v *validator) waivers(waivers []Waiver) {
	seen := map[string]bool{}
	for i, w := range waivers {
		switch {
		case strings.TrimSpace(w.Rule) == "":
			v.addf(key("waivers", i, "rule"), "not set")
		case seen[w.Rule]:
			v.addf(key("waivers", i, "rule"), "%s is waived twice", w.Rule)
		case strings.TrimSpace(w.Reason) == "":
			v.addf(key("waivers", i, "reason"), "a waiver needs a stated reason")
		}
		seen[w.Rule] = true
	}
}

func (v *validator) ingress(cidrs []string, publicWaived bool) {
	if len(cidrs) == 0 {
		v.addf(key("ingressCidrs"), "not set: list who may reach the service ports (there is no default)")
	}
	seen := map[netip.Prefix]bool{}
	for i, c := range cidrs {
		k := key("ingressCidrs", i)
		p, err := netip.ParsePrefix(c)
		switch {
		case err != nil:
			v.addf(k, "%q is not a CIDR block", c)
		case p.Masked() != p:
			v.addf(k, "%q has host bits set (did you mean %q?)", c, p.Masked().String())
		case seen[p]:
			v.addf(k, "%q is listed twice", c)
		case p.Bits() == 0 && !publicWaived:
			v.addf(k, "%q opens the service ports to the whole internet; waive %s in appstack:waivers with "+
				"the reason", c, PublicIngressRule)
		default:
			seen[p] = true
		}
	}
}

func (v *validator) placement(vpcID, subnetID string) {
	switch {
	case (vpcID == "") != (subnetID == ""):
		v.addf(key("vpcId"), "vpcId and subnetId go together: set both, or neither for the default VPC")
	case vpcID != "" && !vpcIDRE.MatchString(vpcID):
		v.addf(key("vpcId"), "%q is not a VPC id", vpcID)
	case subnetID != "" && !subnetIDRE.MatchString(subnetID):
		v.addf(key("subnetId"), "%q is not a subnet id", subnetID)
	}
}

// streamViewTypes are DynamoDB's stream view types
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_StreamSpecification.html).
var streamViewTypes = []string{"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"}

// tableAdoption checks the stated stream, billing mode and local secondary indexes of an adopted table, so that
// adopting keeps them: terraform-provider-aws reads stream_enabled as optional, not computed, so an unstated
// stream is turned off; billing_mode is set as declared; and local_secondary_index is ForceNew, so an unstated
// index means a replacement, which the engine refuses for an import
// (hashicorp/terraform-provider-aws internal/service/dynamodb/table.go, resourceTable's schema).
func (v *validator) tableAdoption(k string, t Table, a *TableAdoption) {
	if a.Stream != "" && !slices.Contains(streamViewTypes, a.Stream) {
		v.addf(k+".stream", "%q: want one of %s (what the table's stream has now), or leave it out for a table "+
			"without a stream", a.Stream, strings.Join(streamViewTypes, ", "))
	}
	switch a.BillingMode {
	case "PAY_PER_REQUEST":
		if a.ReadCapacity != 0 || a.WriteCapacity != 0 {
			v.addf(k+".readCapacity", "capacity is only for billingMode: PROVISIONED")
		}
	case "PROVISIONED":
		if a.ReadCapacity < 1 {
			v.addf(k+".readCapacity", "%d: a PROVISIONED table states its read capacity units (at least 1, "+
				"what the table has now), or the first up changes them", a.ReadCapacity)
		}
		if a.WriteCapacity < 1 {
			v.addf(k+".writeCapacity", "%d: a PROVISIONED table states its write capacity units (at least 1, "+
				"what the table has now), or the first up changes them", a.WriteCapacity)
		}
	default:
		v.addf(k+".billingMode", "%q: want PAY_PER_REQUEST or PROVISIONED (what the table has now)", a.BillingMode)
	}
	if len(a.LocalSecondaryIndexes) > 0 && t.RangeKey == "" {
		v.addf(k+".localSecondaryIndexes", "a table with local secondary indexes has a sort key: set "+
			"tables[].rangeKey to the one it has")
	}
	seen := map[string]bool{}
	for j, l := range a.LocalSecondaryIndexes {
		lk := fmt.Sprintf("%s.localSecondaryIndexes[%d]", k, j)
		if l.Name == "" {
			v.addf(lk+".name", "required: the index's name")
		} else if seen[l.Name] {
			v.addf(lk+".name", "%q is stated twice", l.Name)
		}
		seen[l.Name] = true
		switch l.RangeKey {
		case "":
			v.addf(lk+".rangeKey", "required: the index's sort key")
		case t.HashKey, t.RangeKey:
			v.addf(lk+".rangeKey", "%q is a key of the table, not of the index", l.RangeKey)
		}
		if l.RangeKeyType != "S" && l.RangeKeyType != "N" && l.RangeKeyType != "B" {
			v.addf(lk+".rangeKeyType", "%q: want S, N or B", l.RangeKeyType)
		}
		switch l.Projection {
		case "ALL", "KEYS_ONLY":
			if len(l.NonKeyAttributes) > 0 {
				v.addf(lk+".nonKeyAttributes", "only with projection: INCLUDE")
			}
		case "INCLUDE":
			if len(l.NonKeyAttributes) == 0 {
				v.addf(lk+".nonKeyAttributes", "required with projection: INCLUDE")
			}
		default:
			v.addf(lk+".projection", "%q: want ALL, KEYS_ONLY or INCLUDE", l.Projection)
		}
	}
}
