package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Loop sends requests, one at a time, round-robin to URLs on one address, and counts those that fail. It stops
// when its context ends or, by itself, at Bound.
type Loop struct {
	// Address is the host every URL must name (the stack's Elastic IP). Required.
	Address string
	// FrontDoor says the URLs are https hostnames behind the stack's front door (the host admits only the front
	// door): each URL must then be https instead of naming Address, which still names the stack in messages.
	FrontDoor bool
	// URLs are the targets, each on Address. Required.
	URLs []string
	// Interval is the pause between two requests. Default 200ms.
	Interval time.Duration
	// Timeout bounds one request. Default 5s.
	Timeout time.Duration
	// Bound is the longest the loop runs. Required.
	Bound time.Duration
	// RootCAs are the roots an https URL's certificate must verify against. Default: the system's.
	RootCAs *x509.CertPool
	// DialContext reaches a host:port. Default: the network (tests point hostnames at local servers).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// LoopResult is what a loop saw.
type LoopResult struct {
	// Requests and Failed count the requests sent and those that did not answer 200.
	Requests, Failed int
	// Statuses counts the answers by HTTP status; transport errors count under 0.
	Statuses map[int]int
	// Failures are the first few failures, with when they happened.
	Failures []string
	// Bounded is true when the loop stopped at its bound rather than because it was told to.
	Bounded bool
	// Elapsed is how long the loop ran.
	Elapsed time.Duration
}

// maxFailureSamples is how many failures a result keeps verbatim.
const maxFailureSamples = 10

// String summarises the result on one line.
func (r LoopResult) String() string {
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		label := fmt.Sprintf("HTTP %d", c)
		if c == 0 {
			label = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", label, r.Statuses[c]))
	}
	how := "stopped"
	if r.Bounded {
		how = "stopped at its bound"
	}
	return fmt.Sprintf("%d requests in %s, %d failed (%s); %s", r.Requests, r.Elapsed.Round(time.Second),
		r.Failed, strings.Join(parts, ", "), how)
}

// check refuses a loop that could send a request anywhere but Address.
func (l Loop) check() error {
	if l.Address == "" {
		return errors.New("request loop: no address")
	}
	if len(l.URLs) == 0 {
		return errors.New("request loop: no URLs")
	}
	if l.Bound <= 0 {
		return errors.New("request loop: no bound")
	}
	for _, raw := range l.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("request loop: %q: %w", raw, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("request loop: %q: want http or https", raw)
		}
		switch {
		case l.FrontDoor && u.Scheme != "https":
			return fmt.Errorf("request loop: %q is not an https URL of the front door", raw)
		case !l.FrontDoor && u.Hostname() != l.Address:
			return fmt.Errorf("request loop: %q is not on the address %s", raw, l.Address)
		}
	}
	return nil
}

// Run sends requests until ctx ends or the bound is reached. It fails before sending anything if a URL is not on
// the address. Redirects are not followed and no proxy is used, so that every request goes to the address.
func (l Loop) Run(ctx context.Context) (LoopResult, error) {
	if err := l.check(); err != nil {
		return LoopResult{}, err
	}
	interval, timeout := l.Interval, l.Timeout
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	dial := l.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout}).DialContext
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       dial,
			TLSClientConfig:   &tls.Config{RootCAs: l.RootCAs, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true, // each request opens a connection, as a new visitor would
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	start := time.Now()
	bounded, cancel := context.WithTimeout(ctx, l.Bound)
	defer cancel()
	r := LoopResult{Statuses: map[int]int{}}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; bounded.Err() == nil; i++ {
		target := l.URLs[i%len(l.URLs)]
		status, err := get(bounded, client, target)
		if bounded.Err() != nil && err != nil {
			break // a request cut short by the end of the loop is not a failure of the service
		}
		r.Requests++
		r.Statuses[status]++
		if err != nil || status != http.StatusOK {
			r.Failed++
			if len(r.Failures) < maxFailureSamples {
				what := fmt.Sprintf("HTTP %d", status)
				if err != nil {
					what = err.Error()
				}
				r.Failures = append(r.Failures, fmt.Sprintf("+%s %s: %s",
					time.Since(start).Round(time.Millisecond), target, what))
			}
		}
		select {
		case <-bounded.Done():
		case <-tick.C:
		}
	}
	r.Elapsed = time.Since(start)
	r.Bounded = ctx.Err() == nil
	return r, nil
}

func get(ctx context.Context, client *http.Client, target string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // read the answer as a browser would
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
