// Command smoke checks a deployed stack from its outputs: every service's health URL must answer 200 within a
// bounded number of attempts. The deploy workflow runs it between staging and production.
//
//	smoke -outputs outputs.json [-attempts 10] [-interval 3s]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	path := flag.String("outputs", "outputs.json", "stack outputs as JSON (stackctl up -outputs)")
	attempts := flag.Int("attempts", 10, "tries per service before it counts as down")
	interval := flag.Duration("interval", 3*time.Second, "pause between tries")
	flag.Parse()
	raw, err := os.ReadFile(*path)
	if err == nil {
		err = check(context.Background(), os.Stdout, raw, *attempts, *interval)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
}

// check probes every health URL in the outputs and reports each result; it fails if any service is down.
func check(ctx context.Context, w io.Writer, outputs []byte, attempts int, interval time.Duration) error {
	var out struct {
		HealthURLs map[string]string `json:"healthUrls"`
	}
	if err := json.Unmarshal(outputs, &out); err != nil {
		return fmt.Errorf("reading the outputs: %w", err)
	}
	if len(out.HealthURLs) == 0 {
		return errors.New("the outputs list no healthUrls")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var errs []error
	names := make([]string, 0, len(out.HealthURLs))
	for name := range out.HealthURLs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		url := out.HealthURLs[name]
		err := probe(ctx, client, url, attempts, interval)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", name, url, err))
			fmt.Fprintf(w, "FAIL %s %s: %v\n", name, url, err)
			continue
		}
		fmt.Fprintf(w, "ok   %s %s\n", name, url)
	}
	return errors.Join(errs...)
}

func probe(ctx context.Context, client *http.Client, url string, attempts int, interval time.Duration) error {
	var last error
	for i := range attempts {
		if i > 0 {
			time.Sleep(interval)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		_ = resp.Body.Close() // a read-only body: nothing to lose
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return fmt.Errorf("not healthy after %d attempts: %w", attempts, last)
}
