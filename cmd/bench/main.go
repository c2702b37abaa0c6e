// Command bench measures appstack's build, test and preview speed against its budgets, prints a table and
// rewrites the results section of docs/performance.md (make bench). Builds are measured against a floor: a
// program that imports exactly the SDK packages appstack imports and does nothing (cmd/bench/floor), so
// the ratio shows what appstack's own code costs on top of the SDK.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Budgets.
const (
	coldRatioBudget    = 1.15
	warmRatioBudget    = 1.5
	warmTestBudget     = 15 * time.Second
	warmTestRuns       = 3
	preview50Budget    = time.Second
	floorPackage       = "./cmd/bench/floor"
	editedComponent    = "components/host/host.go"
	docStart, docEnd   = "<!-- bench:start -->", "<!-- bench:end -->"
	benchCommand       = "make bench"
	previewBenchFilter = "OfflinePreview"
)

type run struct {
	wall, cpu time.Duration
	rssMB     float64
}

func main() {
	doc := flag.String("doc", "", "markdown file whose results section to rewrite")
	writeFloor := flag.Bool("write-floor", false, "regenerate cmd/bench/floor from the program's imports and exit")
	flag.Parse()
	if *writeFloor {
		if err := generateFloor(); err != nil {
			fail(err)
		}
		return
	}
	report, ok, err := measure()
	if err != nil {
		fail(err)
	}
	fmt.Print(report)
	if *doc != "" {
		if err := rewrite(*doc, report); err != nil {
			fail(err)
		}
	}
	if !ok {
		fail(fmt.Errorf("a budget was missed (see the table)"))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// timed runs a command and reports its wall time, CPU time (user + system, children included) and peak RSS.
func timed(env []string, name string, args ...string) (run, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := run{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru != nil {
		r.rssMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return r, nil
}

// withEdit appends a comment to path, runs f, and restores the file.
func withEdit(path string, f func() error) error {
	orig, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	defer func() { _ = os.WriteFile(path, orig, 0o644) }()
	if err := os.WriteFile(path, append(append([]byte{}, orig...), []byte("\n// bench edit\n")...), 0o644); err != nil {
		return err
	}
	return f()
}

func measure() (string, bool, error) {
	tmp, err := os.MkdirTemp("", "appstack-bench-")
	if err != nil {
		return "", false, err
	}
	defer func() { _ = os.RemoveAll(tmp) }() // a temporary directory: leftovers are harmless
	cache := func(name string) []string {
		return []string{"GOCACHE=" + filepath.Join(tmp, name), "GOFLAGS=-buildvcs=false"}
	}
	build := func(env []string, pkg, out string) (run, error) {
		return timed(env, "go", "build", "-o", filepath.Join(tmp, out), pkg)
	}
	var b strings.Builder
	ok := true
	check := func(pass bool) string {
		if pass {
			return "ok"
		}
		ok = false
		return "MISSED"
	}

	fmt.Fprintln(os.Stderr, "bench: reading the SDK sources into the page cache…")
	if err := warmPageCache(); err != nil {
		return "", false, err
	}
	fmt.Fprintln(os.Stderr, "bench: cold builds (empty GOCACHE each)…")
	appCold, err := build(cache("app"), ".", "app")
	if err != nil {
		return "", false, err
	}
	floorCold, err := build(cache("floor"), floorPackage, "floor")
	if err != nil {
		return "", false, err
	}
	fmt.Fprintln(os.Stderr, "bench: warm rebuilds after a one-file edit…")
	var appWarm, floorWarm run
	if err := withEdit(editedComponent, func() (e error) { appWarm, e = build(cache("app"), ".", "app"); return }); err != nil {
		return "", false, err
	}
	if err := withEdit(filepath.Join(floorPackage, "main.go"), func() (e error) {
		floorWarm, e = build(cache("floor"), floorPackage, "floor")
		return
	}); err != nil {
		return "", false, err
	}
	fmt.Fprintln(os.Stderr, "bench: go test ./... cold, then warm…")
	testCold, err := timed(cache("test"), "go", "test", "-count=1", "./...")
	if err != nil {
		return "", false, err
	}
	// One warm run is at the mercy of whatever else the machine does; the median of three is not.
	var testWarm []time.Duration
	for range warmTestRuns {
		r, err := timed(cache("test"), "go", "test", "-count=1", "./...")
		if err != nil {
			return "", false, err
		}
		testWarm = append(testWarm, r.wall)
	}
	slices.Sort(testWarm)
	fmt.Fprintln(os.Stderr, "bench: a CI job's compile, cold and then warm after a one-file edit…")
	ciBuild := func() (run, error) {
		var total run
		for _, b := range [][2]string{{"./cmd/stackctl", "stackctl"}, {".", "appstack"}} {
			r, err := build(cache("ci"), b[0], b[1])
			if err != nil {
				return run{}, err
			}
			total.wall += r.wall
			total.cpu += r.cpu
		}
		return total, nil
	}
	ciCold, err := ciBuild()
	if err != nil {
		return "", false, err
	}
	var ciWarm run
	if err := withEdit(editedComponent, func() (e error) { ciWarm, e = ciBuild(); return }); err != nil {
		return "", false, err
	}
	fmt.Fprintln(os.Stderr, "bench: the sample service's image layer…")
	layer, layerGzip, err := sampleLayer(cache("ci"), tmp)
	if err != nil {
		return "", false, err
	}
	fmt.Fprintln(os.Stderr, "bench: offline preview benchmark…")
	points, err := previewBench(cache("test"))
	if err != nil {
		return "", false, err
	}

	coldRatio := appCold.wall.Seconds() / floorCold.wall.Seconds()
	warmRatio := appWarm.wall.Seconds() / floorWarm.wall.Seconds()
	fmt.Fprintf(&b, "| measurement | appstack | floor | ratio | budget | result |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| cold build: wall | %s | %s | %.2f | ≤ %.2f | %s |\n", secs(appCold.wall), secs(floorCold.wall),
		coldRatio, coldRatioBudget, check(coldRatio <= coldRatioBudget))
	fmt.Fprintf(&b, "| cold build: CPU | %s | %s | %.2f | | |\n", secs(appCold.cpu), secs(floorCold.cpu),
		appCold.cpu.Seconds()/floorCold.cpu.Seconds())
	fmt.Fprintf(&b, "| cold build: peak RSS | %.0f MB | %.0f MB | %.2f | | |\n", appCold.rssMB, floorCold.rssMB,
		appCold.rssMB/floorCold.rssMB)
	fmt.Fprintf(&b, "| warm rebuild after editing one file (%s / floor main.go) | %s | %s | %.2f | ≤ %.1f | %s |\n",
		editedComponent, secs(appWarm.wall), secs(floorWarm.wall), warmRatio, warmRatioBudget,
		check(warmRatio <= warmRatioBudget))
	fmt.Fprintf(&b, "| `go test -count=1 ./...` cold (empty GOCACHE) | %s | | | | |\n", secs(testCold.wall))
	median := testWarm[len(testWarm)/2]
	fmt.Fprintf(&b, "| `go test -count=1 ./...` warm, median of %d (fastest-slowest) | %s (%s-%s) | | | ≤ %s | %s |\n",
		len(testWarm), secs(median), secs(testWarm[0]), secs(testWarm[len(testWarm)-1]), secs(warmTestBudget),
		check(median <= warmTestBudget))
	fmt.Fprintf(&b, "\n| a CI job's compile: `go build` of bin/stackctl and bin/appstack | wall | CPU |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| no cache (every job, before setup-go caching) | %s | %s |\n", secs(ciCold.wall), secs(ciCold.cpu))
	fmt.Fprintf(&b, "| cache restored, one component file edited (a typical pull request) | %s | %s |\n",
		secs(ciWarm.wall), secs(ciWarm.cpu))

	fmt.Fprintf(&b, "\nThe sample service's own image layer (app/ built as app/Dockerfile builds it, linux/amd64): "+
		"%.1f MB, %.1f MB gzipped as a registry stores it; it sits on distroless static-debian12 (about 2 MiB).\n",
		float64(layer)/1e6, float64(layerGzip)/1e6)
	fmt.Fprintf(&b, "\n| offline preview | resources | time | allocations | time per resource | allocations per resource |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	for _, p := range points {
		fmt.Fprintf(&b, "| %d services | %d | %.1f ms | %d | %.0f µs | %.0f |\n", p.services, p.resources,
			p.ns/1e6, p.allocs, p.ns/1e3/float64(p.resources), float64(p.allocs)/float64(p.resources))
	}
	slope, intercept, r2 := fit(points)
	last := points[len(points)-1]
	sign := "+"
	if intercept < 0 {
		sign, intercept = "-", -intercept
	}
	fmt.Fprintf(&b, "\nFitted time = %.1f µs × resources %s %.2f ms (R² = %.3f): linear growth. 50 services: %.1f ms "+
		"(budget %s): %s.\n", slope/1e3, sign, intercept/1e6, r2, last.ns/1e6, preview50Budget,
		check(time.Duration(last.ns) <= preview50Budget && r2 >= 0.95))
	fmt.Fprintf(&b, "\n%s\n", environment())
	return b.String(), ok, nil
}

// warmPageCache reads every source file the program depends on. Without it the first cold build also pays
// for reading the SDK from disk and the second finds it in memory, which moved the cold ratio by up to 0.1.
func warmPageCache() error {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.Dir}}", ".").Output()
	if err != nil {
		return fmt.Errorf("go list: %w", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// sampleLayer builds the sample service the way app/Dockerfile does and returns the binary's size and its
// gzipped size: the image layer a deploy pushes to ECR and the host pulls.
func sampleLayer(env []string, dir string) (size, gzipped int64, err error) {
	out := filepath.Join(dir, "sample-app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = "app"
	cmd.Env = append(append(os.Environ(), env...), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("building the sample service: %w\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return int64(len(data)), int64(buf.Len()), nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

type point struct {
	services, resources int
	ns                  float64
	allocs              int
}

var benchLine = regexp.MustCompile(`services=(\d+)-\d+\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) resources\s+\d+ B/op\s+(\d+) allocs/op`)

func previewBench(env []string) ([]point, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", previewBenchFilter, "-benchmem", "-count=1", "./infra")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("preview benchmark: %w\n%s", err, out)
	}
	var points []point
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var p point
		p.services, _ = strconv.Atoi(m[1])
		p.ns, _ = strconv.ParseFloat(m[2], 64)
		r, _ := strconv.ParseFloat(m[3], 64)
		p.resources = int(r)
		p.allocs, _ = strconv.Atoi(m[4])
		points = append(points, p)
	}
	if len(points) < 3 {
		return nil, fmt.Errorf("preview benchmark: want 3 results, got %d:\n%s", len(points), out)
	}
	slices.SortFunc(points, func(a, b point) int { return a.services - b.services })
	return points, nil
}

// fit is a least-squares line of time over resources, with its R².
func fit(points []point) (slope, intercept, r2 float64) {
	n := float64(len(points))
	var sx, sy, sxx, sxy float64
	for _, p := range points {
		x, y := float64(p.resources), p.ns
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	slope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	intercept = (sy - slope*sx) / n
	mean := sy / n
	var ssRes, ssTot float64
	for _, p := range points {
		pred := slope*float64(p.resources) + intercept
		ssRes += (p.ns - pred) * (p.ns - pred)
		ssTot += (p.ns - mean) * (p.ns - mean)
	}
	return slope, intercept, 1 - ssRes/ssTot
}

// environment describes the machine and the versions, so a reader can compare runs.
func environment() string {
	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()
	mods, _ := exec.Command("go", "list", "-m", "github.com/pulumi/pulumi/sdk/v3", "github.com/pulumi/pulumi-aws/sdk/v7",
		"github.com/pulumi/pulumi-docker/sdk/v4").Output()
	cpu := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		fields := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])
		if len(fields) >= 2 {
			kb, _ := strconv.Atoi(fields[1])
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/1024/1024)
		}
	}
	return fmt.Sprintf("Measured %s with `%s` on %d cores (%s%s), %s/%s, %s; SDKs: %s.",
		time.Now().UTC().Format("2006-01-02"), benchCommand, runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH,
		strings.TrimSpace(string(goVersion)), strings.Join(strings.Split(strings.TrimSpace(string(mods)), "\n"), ", "))
}

// rewrite replaces the results section of doc with report.
func rewrite(doc, report string) error {
	raw, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	s := string(raw)
	i, j := strings.Index(s, docStart), strings.Index(s, docEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s section", doc, docStart, docEnd)
	}
	return os.WriteFile(doc, []byte(s[:i+len(docStart)]+"\n"+report+s[j:]), 0o644)
}
