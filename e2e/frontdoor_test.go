package e2e

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// door is a local front door: an HTTPS server with httptest's certificate (valid for example.com and its
// subdomains) and a plain HTTP server, with web.example.com:443 and :80 dialled to them.
type door struct {
	https, http *httptest.Server
	check       FrontDoorCheck
}

func newDoor(t *testing.T, hsts string, redirect func(w http.ResponseWriter, r *http.Request), minTLS uint16) *door {
	t.Helper()
	d := &door{}
	d.https = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hsts != "" {
			w.Header().Set("Strict-Transport-Security", hsts)
		}
		_, _ = w.Write([]byte("hello"))
	}))
	d.https.TLS = &tls.Config{MinVersion: minTLS} //nolint:gosec // a test server may offer old TLS on purpose
	d.https.StartTLS()
	t.Cleanup(d.https.Close)
	d.http = httptest.NewServer(http.HandlerFunc(redirect))
	t.Cleanup(d.http.Close)
	pool := d.https.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	d.check = FrontDoorCheck{
		RootCAs: pool,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			target := map[string]string{
				"web.example.com:443": d.https.Listener.Addr().String(),
				"web.example.com:80":  d.http.Listener.Addr().String(),
			}[addr]
			if target == "" {
				target = "127.0.0.1:1" // nothing listens: an unknown host fails
			}
			return (&net.Dialer{}).DialContext(ctx, network, target)
		},
	}
	return d
}

func permanentRedirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
}

const year = "max-age=31536000; includeSubDomains"

func TestAFrontDoorThatKeepsItsPromisesPasses(t *testing.T) {
	d := newDoor(t, year, permanentRedirect, tls.VersionTLS12)
	require.NoError(t, d.check.Run(context.Background(), map[string]string{"web": "https://web.example.com/"}))
}

func TestEveryBrokenPromiseIsReported(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hsts     string
		redirect func(w http.ResponseWriter, r *http.Request)
		minTLS   uint16
		change   func(c *FrontDoorCheck)
		url      string
		want     string
	}{
		{name: "an untrusted certificate", change: func(c *FrontDoorCheck) { c.RootCAs = nil },
			want: "certificate"},
		{name: "a certificate for another name", url: "https://web.example.org/", want: "HTTPS request"},
		{name: "a certificate about to expire",
			change: func(c *FrontDoorCheck) { c.Now = func() time.Time { return time.Now().AddDate(200, 0, 0) } },
			want:   "the certificate expires"},
		{name: "no HSTS", hsts: "-", want: "Strict-Transport-Security"},
		{name: "a short HSTS", hsts: "max-age=300", want: "Strict-Transport-Security"},
		{name: "plain HTTP served instead of redirected",
			redirect: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("plain")) },
			want:     "plain HTTP answered 200"},
		{name: "a temporary redirect",
			redirect: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://"+r.Host+"/", http.StatusFound)
			}, want: "not a permanent redirect"},
		{name: "a redirect to another host",
			redirect: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://evil.example.net/", http.StatusMovedPermanently)
			}, want: `redirects to "https://evil.example.net/"`},
		{name: "TLS 1.1 accepted", minTLS: tls.VersionTLS10, want: "a TLS 1.1 handshake succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hsts := tc.hsts
			switch hsts {
			case "":
				hsts = year
			case "-":
				hsts = ""
			}
			redirect := tc.redirect
			if redirect == nil {
				redirect = permanentRedirect
			}
			minTLS := tc.minTLS
			if minTLS == 0 {
				minTLS = tls.VersionTLS12
			}
			d := newDoor(t, hsts, redirect, minTLS)
			if tc.change != nil {
				tc.change(&d.check)
			}
			u := tc.url
			if u == "" {
				u = "https://web.example.com/"
			}
			err := d.check.Run(context.Background(), map[string]string{"web": u})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "frontdoor: web ("), err.Error())
		})
	}
}

func TestTheChecksApplyOnlyToAStackWithAFrontDoor(t *testing.T) {
	assert.True(t, HasFrontDoor(map[string]string{"web": "https://web.example.com/"}))
	assert.False(t, HasFrontDoor(map[string]string{"web": "http://203.0.113.7:8080/"}))
	assert.False(t, HasFrontDoor(map[string]string{"web": "https://a.example.com/", "api": "http://1.2.3.4:81/"}))
	assert.False(t, HasFrontDoor(nil))
	err := FrontDoorCheck{}.Run(context.Background(), map[string]string{"web": "http://203.0.113.7:8080/"})
	assert.ErrorContains(t, err, "no front door")
}

func TestTheRequestLoopFollowsTheFrontDoorsHostnames(t *testing.T) {
	door := Loop{Address: "203.0.113.7", FrontDoor: true, Bound: time.Second,
		URLs: []string{"https://web.pr-e2e-1.example.com/", "https://api.pr-e2e-1.example.com/"}}
	assert.NoError(t, door.check(), "behind the front door the URLs are its hostnames, not the host's address")
	door.URLs = append(door.URLs, "http://203.0.113.7:8080/")
	assert.ErrorContains(t, door.check(), "is not an https URL of the front door")

	plain := Loop{Address: "203.0.113.7", Bound: time.Second, URLs: []string{"https://web.pr-e2e-1.example.com/"}}
	assert.ErrorContains(t, plain.check(), "is not on the address 203.0.113.7", "without a front door nothing changes")
}
