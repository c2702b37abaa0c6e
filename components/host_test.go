package components_test

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mvdan.cc/sh/v3/syntax"

	"appstack/components/host"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const (
	instanceType = "aws:ec2/instance:Instance"
	eipType      = "aws:ec2/eip:Eip"
	assocType    = "aws:ec2/eipAssociation:EipAssociation"
)

func digestRef(repo string, n int) string {
	return fmt.Sprintf("123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/%s@sha256:%064x", repo, n)
}

func hostArgs() *host.Args {
	return &host.Args{
		Services: []host.Service{{
			Name: "web", Port: 8080, HealthPath: "/health", ReadyPath: "/ready",
			Image:   pulumi.String(digestRef("web", 1)),
			Env:     pulumi.StringMap{"PORT": pulumi.String("8080")},
			Secrets: map[string]string{"JWT_SECRET": "/appstack/test/app/secrets/JWT_SECRET"},
		}},
		InstanceType:         "t3.small",
		Arch:                 "x86_64",
		SecurityGroupIDs:     pulumi.StringArray{pulumi.String("sg-1")},
		InstanceProfileName:  pulumi.String("profile"),
		LogGroupName:         pulumi.String("app-logs"),
		Region:               "ap-southeast-1",
		Tags:                 map[string]string{"app": "appstack"},
		ReadyParameterPrefix: "/appstack/test/app/ready",
	}
}

func TestInstanceIsHardened(t *testing.T) {
	res := offlinetest.Run(t, program(host.New, "h", hostArgs()))
	inst := offlinetest.One(t, res, instanceType)
	assert.Equal(t, "required", offlinetest.Str(t, inst, "metadataOptions.httpTokens"), "IMDSv2 only")
	assert.Equal(t, 1.0, offlinetest.Num(t, inst, "metadataOptions.httpPutResponseHopLimit"))
	assert.Equal(t, "gp3", offlinetest.Str(t, inst, "rootBlockDevice.volumeType"))
	assert.True(t, offlinetest.Bool(t, inst, "rootBlockDevice.encrypted"))
	assert.Equal(t, 20.0, offlinetest.Num(t, inst, "rootBlockDevice.volumeSize"))
	assert.Equal(t, "appstack", offlinetest.Str(t, inst, "volumeTags.app"), "volumes are tagged in the launch")
	_, late := offline.Lookup(inst.Inputs, "rootBlockDevice.tags")
	assert.False(t, late, "rootBlockDevice.tags are set after the launch, which the CI roles refuse")
	assert.Equal(t, []any{"sg-1"}, offlinetest.Prop(t, inst, "vpcSecurityGroupIds").Mappable())
	_, hasGroups := offline.Lookup(inst.Inputs, "securityGroups")
	assert.False(t, hasGroups, "securityGroups (names) forces replacement in a VPC: pulumi-aws #744")
	assert.Equal(t, "profile", offlinetest.Str(t, inst, "iamInstanceProfile"))
	assert.True(t, offlinetest.Bool(t, inst, "userDataReplaceOnChange"))
	assert.False(t, offlinetest.Bool(t, inst, "monitoring"))
	assert.Equal(t, []string{"ami"}, inst.IgnoreChanges, "an AMI change alone never replaces the host")
	assert.Regexp(t, `^ami-0[0-9a-f]{16}$`, offlinetest.Str(t, inst, "ami"))
}

// RunInstances refuses ebsOptimized on a type whose EbsOptimizedSupport is unsupported, a t2 (docs/migration.md
// starts from a t2.micro) as much as an m3.medium: the host asks for it only where the type supports it.
func TestOnlyATypeThatCanBeEBSOptimizedIsAskedToBe(t *testing.T) {
	for typ, want := range map[string]bool{"t3.small": true, "t2.micro": false, "t4g.small": true, "t1.micro": false,
		"m3.medium": false, "c3.8xlarge": false, "m3.xlarge": true} {
		args := hostArgs()
		args.InstanceType = typ
		res := offlinetest.Run(t, program(host.New, "h", args))
		assert.Equal(t, want, offlinetest.Bool(t, offlinetest.One(t, res, instanceType), "ebsOptimized"), typ)
	}
}

func TestAMIComesFromThePublicParameterForTheArch(t *testing.T) {
	for arch, param := range host.AMIParameters[host.AMIStandard] {
		t.Run(arch, func(t *testing.T) {
			a := hostArgs()
			a.Arch, a.InstanceType = arch, "t4g.small"
			res := offlinetest.Run(t, program(host.New, "h", a))
			var names []string
			for _, inv := range res.Invokes {
				if inv.Token == getParameter && strings.HasPrefix(inv.Args["name"].StringValue(), "/aws/service/") {
					names = append(names, inv.Args["name"].StringValue())
				}
			}
			assert.Equal(t, []string{param}, names)
			assert.Contains(t, param, "al2023-ami")
		})
	}
}

func TestElasticIPIsTheStableAddress(t *testing.T) {
	for _, protect := range []bool{false, true} {
		t.Run(fmt.Sprintf("protect=%t", protect), func(t *testing.T) {
			a := hostArgs()
			a.ProtectAddress, a.DetailedMonitoring = protect, protect
			res := offlinetest.Run(t, program(host.New, "h", a))
			eip := offlinetest.One(t, res, eipType)
			assert.Equal(t, "vpc", offlinetest.Str(t, eip, "domain"))
			assert.Equal(t, protect, eip.Protect)
			_, bound := offline.Lookup(eip.Inputs, "instance")
			assert.False(t, bound, "the address is moved by the association, never by changing the Eip")
			assoc := offlinetest.One(t, res, assocType)
			inst := offlinetest.One(t, res, instanceType)
			assert.Equal(t, inst.ID, offlinetest.Str(t, assoc, "instanceId"))
			assert.Equal(t, eip.ID, offlinetest.Str(t, assoc, "allocationId"))
			assert.Equal(t, protect, offlinetest.Bool(t, inst, "monitoring"))
		})
	}
}

func TestUserDataNamesSecretsByParameter(t *testing.T) {
	res := offlinetest.Run(t, program(host.New, "h", hostArgs()))
	script := offlinetest.Str(t, offlinetest.One(t, res, instanceType), "userData")
	assert.Contains(t, script, "retry secret /appstack/test/app/secrets/JWT_SECRET",
		"the host fetches the secret itself, by parameter name")
	assert.Contains(t, script, "pull web "+digestRef("web", 1))
}

func TestAnImageNotPinnedByDigestFailsTheUpdate(t *testing.T) {
	for _, ref := range []string{"<none>@<none>", "web:latest", "web@sha256:abc",
		strings.Repeat("a", 10) + "@sha256:" + strings.Repeat("A", 64)} {
		a := hostArgs()
		a.Services[0].Image = pulumi.String(ref)
		_, err := offlinetest.RunErr(program(host.New, "h", a))
		require.Error(t, err, ref)
		assert.Contains(t, err.Error(), `service "web": image reference `, ref)
		assert.Contains(t, err.Error(), "is not pinned by digest", ref)
	}
}

func TestHostArgsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		change func(*host.Args)
		want   string
	}{
		{func(a *host.Args) { a.Services = nil }, "at least one service is required"},
		{func(a *host.Args) { a.Arch = "sparc" }, `Arch "sparc": want x86_64 or arm64`},
		{func(a *host.Args) { a.LogGroupName = nil }, "LogGroupName are required"},
		{func(a *host.Args) { a.Services[0].HealthPath = "health" }, "HealthPath and ReadyPath must start with /"},
	} {
		a := hostArgs()
		tc.change(a)
		_, err := offlinetest.RunErr(program(host.New, "h", a))
		assert.ErrorContains(t, err, tc.want)
	}
}

func bootSpec(n int) host.BootSpec {
	spec := host.BootSpec{Region: "ap-southeast-1", LogGroup: "app-logs"}
	for i := range n {
		name := fmt.Sprintf("app%d", i)
		spec.Services = append(spec.Services, host.BootService{
			Name: name, Image: digestRef(name, i), Port: 8501 + i, HealthPath: "/_stcore/health",
			ReadyPath: "/_stcore/health",
			Env:       map[string]string{"PORT": fmt.Sprint(8501 + i), "APPSTACK_SERVICE": name},
			Secrets:   map[string]string{"API_KEY": "/appstack/prod/app/secrets/API_KEY"},
		})
	}
	return spec
}

func TestFourServicesFitInUserData(t *testing.T) {
	script, err := host.RenderBootScript(bootSpec(4))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(script), host.MaxUserData)
	t.Logf("four services: %d bytes of %d", len(script), host.MaxUserData)
	_, err = syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "boot.sh")
	require.NoError(t, err, "the rendered script is valid bash")
}

func TestManyServicesAreGzippedToFit(t *testing.T) {
	script, err := host.RenderBootScript(bootSpec(40))
	require.NoError(t, err)
	require.Error(t, host.CheckUserData(script), "40 services do not fit plain")
	gz, err := host.GzipUserData(script)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(gz)*3/4, host.MaxUserData)
	t.Logf("40 services: %d bytes plain, %d base64 of gzip", len(script), len(gz))

	a := hostArgs()
	a.Services = nil
	for i := range 30 {
		a.Services = append(a.Services, host.Service{Name: fmt.Sprintf("s%d", i), Port: 9000 + i,
			HealthPath: "/h", ReadyPath: "/r", Image: pulumi.String(digestRef(fmt.Sprintf("s%d", i), i))})
	}
	inst := offlinetest.One(t, offlinetest.Run(t, program(host.New, "h", a)), instanceType)
	_, plain := offline.Lookup(inst.Inputs, "userData")
	assert.False(t, plain)
	assert.NotEmpty(t, offlinetest.Str(t, inst, "userDataBase64"))
	assert.True(t, offlinetest.Bool(t, inst, "userDataReplaceOnChange"))
}

func TestIncompressibleUserDataIsRejected(t *testing.T) {
	spec := bootSpec(1)
	var noise strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&noise, "%x", sha256.Sum256([]byte(fmt.Sprint(i))))
	}
	spec.Services[0].Env["NOISE"] = noise.String()
	script, err := host.RenderBootScript(spec)
	require.NoError(t, err)
	_, err = host.GzipUserData(script)
	assert.ErrorContains(t, err, "gzipped; EC2 user-data allows 16384")
}

func TestRenderedValuesCannotInjectShell(t *testing.T) {
	spec := bootSpec(1)
	evil := "$(touch /tmp/pwned)`id`'\"; reboot"
	spec.Services[0].Env["GREETING"] = evil
	spec.Services[0].HealthPath = "/h$(reboot)"
	script, err := host.RenderBootScript(spec)
	require.NoError(t, err)
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "boot.sh")
	require.NoError(t, err)
	syntax.Walk(f, func(n syntax.Node) bool {
		if cs, ok := n.(*syntax.CmdSubst); ok {
			printed := &strings.Builder{}
			require.NoError(t, syntax.NewPrinter().Print(printed, cs))
			assert.NotContains(t, printed.String(), "pwned")
			assert.NotContains(t, printed.String(), "reboot")
		}
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			assert.NotEqual(t, "reboot", c.Args[0].Lit(), "a rendered value became a command")
		}
		return true
	})
}

func TestECSAMIComesFromTheECSParameter(t *testing.T) {
	a := hostArgs()
	a.AMI = host.AMIECS
	res := offlinetest.Run(t, program(host.New, "h", a))
	var names []string
	for _, inv := range res.Invokes {
		if inv.Token == getParameter && strings.HasPrefix(inv.Args["name"].StringValue(), "/aws/service/") {
			names = append(names, inv.Args["name"].StringValue())
		}
	}
	assert.Equal(t, []string{"/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"}, names)
	a.AMI = "ubuntu"
	_, err := offlinetest.RunErr(program(host.New, "h", a))
	assert.ErrorContains(t, err, `AMI "ubuntu": want al2023 or ecs-al2023`)
}
