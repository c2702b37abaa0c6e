package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// WaitHealthy polls every health URL until each has answered 200, or fails at bound naming those that did not.
func WaitHealthy(ctx context.Context, urls map[string]string, bound, interval time.Duration) error {
	if len(urls) == 0 {
		return errors.New("health: the stack outputs list no healthUrls")
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	client := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	pending := map[string]error{}
	for name := range urls {
		pending[name] = errors.New("not tried")
	}
	for {
		for name := range pending {
			status, err := get(ctx, client, urls[name])
			switch {
			case err != nil && ctx.Err() != nil:
				// cut short by the bound: keep the last real answer
			case err != nil:
				pending[name] = err
			case status != http.StatusOK:
				pending[name] = fmt.Errorf("HTTP %d", status)
			default:
				delete(pending, name)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			names := make([]string, 0, len(pending))
			for name := range pending {
				names = append(names, name)
			}
			slices.Sort(names)
			var errs []error
			for _, name := range names {
				errs = append(errs, fmt.Errorf("health: %s (%s) did not answer 200 within %s: %v", name, urls[name],
					bound, pending[name]))
			}
			return errors.Join(errs...)
		case <-time.After(interval):
		}
	}
}
