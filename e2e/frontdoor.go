package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FrontDoorCheck checks what the HTTPS front door promises, from outside, on every service URL: a certificate
// that a client trusts for the hostname and that is not about to expire, TLS 1.2 or newer only, HSTS on the
// responses, and plain HTTP answered with a permanent redirect to the same URL over HTTPS.
type FrontDoorCheck struct {
	// RootCAs are the trusted roots. Default: the system's (a real certificate must verify against them).
	RootCAs *x509.CertPool
	// DialContext reaches a host:port. Default: the network (tests point hostnames at local servers).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MinValidity is how long the certificate must still be valid. Default 7 days: ACM renews 60 days ahead.
	MinValidity time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// HasFrontDoor reports whether a stack serves its services through the front door: every service URL is https.
// A stack without a domain serves plain http, and the front door checks do not apply to it.
func HasFrontDoor(serviceURLs map[string]string) bool {
	if len(serviceURLs) == 0 {
		return false
	}
	for _, u := range serviceURLs {
		if !strings.HasPrefix(u, "https://") {
			return false
		}
	}
	return true
}

// Run checks every service URL and returns one error per problem, naming the service.
func (c FrontDoorCheck) Run(ctx context.Context, serviceURLs map[string]string) error {
	if !HasFrontDoor(serviceURLs) {
		return errors.New("frontdoor: the stack has no front door (its serviceUrls are not https)")
	}
	names := make([]string, 0, len(serviceURLs))
	for name := range serviceURLs {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		if err := c.one(ctx, serviceURLs[name]); err != nil {
			errs = append(errs, fmt.Errorf("frontdoor: %s (%s): %w", name, serviceURLs[name], err))
		}
	}
	return errors.Join(errs...)
}

func (c FrontDoorCheck) one(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("not an https URL")
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	minValidity := c.MinValidity
	if minValidity == 0 {
		minValidity = 7 * 24 * time.Hour
	}
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	client := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy:           nil,
			DialContext:     dial,
			TLSClientConfig: &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var errs []error

	// The certificate: verified by the client (roots, hostname), with time left.
	resp, err := doorGet(ctx, client, raw)
	if err != nil {
		return fmt.Errorf("HTTPS request: %w", err)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		errs = append(errs, errors.New("no TLS connection state"))
	} else {
		leaf := resp.TLS.PeerCertificates[0]
		if left := leaf.NotAfter.Sub(now()); left < minValidity {
			errs = append(errs, fmt.Errorf("the certificate expires %s, in less than %s", leaf.NotAfter.Format(time.RFC3339),
				minValidity))
		}
		if resp.TLS.Version < tls.VersionTLS12 {
			errs = append(errs, fmt.Errorf("negotiated %s", tls.VersionName(resp.TLS.Version)))
		}
	}
	if age := hstsMaxAge(resp.Header.Get("Strict-Transport-Security")); age < 31536000 {
		errs = append(errs, fmt.Errorf("Strict-Transport-Security %q: want max-age of a year or more",
			resp.Header.Get("Strict-Transport-Security")))
	}

	// TLS 1.1 must be refused.
	if err := c.refusesOldTLS(ctx, dial, u); err != nil {
		errs = append(errs, err)
	}

	// Plain HTTP: a permanent redirect to the same path over HTTPS.
	plain := *u
	plain.Scheme = "http"
	plain.Host = u.Hostname()
	resp, err = doorGet(ctx, client, plain.String())
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("plain HTTP request: %w", err))
	case resp.StatusCode != http.StatusMovedPermanently && resp.StatusCode != http.StatusPermanentRedirect:
		errs = append(errs, fmt.Errorf("plain HTTP answered %d, not a permanent redirect", resp.StatusCode))
	default:
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Scheme != "https" || loc.Hostname() != u.Hostname() || loc.Path != u.Path {
			errs = append(errs, fmt.Errorf("plain HTTP redirects to %q, not to %s", resp.Header.Get("Location"), raw))
		}
	}
	return errors.Join(errs...)
}

// refusesOldTLS offers TLS 1.1 at most: the front door must not complete that handshake.
func (c FrontDoorCheck) refusesOldTLS(ctx context.Context, dial func(context.Context, string, string) (net.Conn,
	error), u *url.URL) error {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	raw, err := dial(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fmt.Errorf("dialing for the TLS 1.1 probe: %w", err)
	}
	conn := tls.Client(raw, &tls.Config{ServerName: u.Hostname(), RootCAs: c.RootCAs,
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}) //nolint:gosec // the probe must offer old TLS
	defer func() { _ = conn.Close() }() // a probe connection: nothing to flush
	if err := conn.HandshakeContext(ctx); err == nil {
		return errors.New("a TLS 1.1 handshake succeeded")
	}
	return nil
}

type doorResponse struct {
	StatusCode int
	Header     http.Header
	TLS        *tls.ConnectionState
}

func doorGet(ctx context.Context, client *http.Client, raw string) (*doorResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close() // the checks read the status and headers only
	return &doorResponse{StatusCode: resp.StatusCode, Header: resp.Header, TLS: resp.TLS}, nil
}

// hstsMaxAge reads max-age from a Strict-Transport-Security value; 0 without one.
func hstsMaxAge(h string) int {
	for _, part := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(k, "max-age") {
			n, err := strconv.Atoi(strings.Trim(v, `"`))
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}
