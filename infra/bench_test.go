package infra

import (
	"fmt"
	"strings"
	"testing"

	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

// servicesConfig is the staging configuration with n prebuilt services, the shape of a growing app.
func servicesConfig(b testing.TB, n int) map[string]string {
	cfg := offlinetest.StackConfig(b, "staging", nil).Config
	var services []string
	for i := range n {
		services = append(services, fmt.Sprintf(`{"name":"svc%d","port":%d,"image":"public.ecr.aws/appstack/svc%d@sha256:%064x"}`,
			i, 10000+i, i, i+1))
	}
	cfg["appstack:services"] = "[" + strings.Join(services, ",") + "]"
	return cfg
}

// BenchmarkOfflinePreview evaluates the whole program under the mocks, as the offline preview does, for 1, 10
// and 50 services. It reports the resources declared, so time and allocations per resource can be derived.
func BenchmarkOfflinePreview(b *testing.B) {
	b.Chdir(offlinetest.Root())
	for _, n := range []int{1, 10, 50} {
		cfg := servicesConfig(b, n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			resources := 0
			for b.Loop() {
				res, err := offline.Run(Program, offline.Options{Stack: "staging", Config: cfg, DryRun: true})
				if err != nil {
					b.Fatal(err)
				}
				resources = len(res.Resources)
			}
			b.ReportMetric(float64(resources), "resources")
		})
	}
}

func TestBenchmarkConfigIsValid(t *testing.T) {
	res := mustRun(t, "staging", servicesConfig(t, 3))
	if got := len(res.OfType(ingressType)); got != 3 {
		t.Fatalf("3 services open %d ports, want 3", got)
	}
}
