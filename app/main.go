// Command app is appstack's sample service: a hello page, /health for liveness and /ready for readiness.
// It listens on $PORT (default 8080) and, on SIGTERM, turns not-ready before it drains and stops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	check := flag.Bool("check", false, "probe /health on $PORT and exit 0 if it answers 200 (for HEALTHCHECK)")
	flag.Parse()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if *check {
		os.Exit(probe("http://127.0.0.1:" + port + "/health"))
	}
	if err := run(":"+port, os.Getenv("APPSTACK_SERVICE")); err != nil {
		slog.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func probe(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

func run(addr, name string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := newServer(name)
	httpSrv := &http.Server{Addr: addr, Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.ListenAndServe() }()
	srv.ready.Store(true)
	slog.Info("listening", "addr", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Not ready first, so that a health-gated switch stops sending new requests before the drain.
	srv.ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type server struct {
	*http.ServeMux
	name  string
	ready atomic.Bool
}

var page = template.Must(template.New("page").Parse(
	`<!doctype html><title>{{.}}</title><h1>Hello from {{.}}</h1><p>Deployed by appstack.</p>`))

func newServer(name string) *server {
	if name == "" {
		name = "appstack sample"
	}
	s := &server{ServeMux: http.NewServeMux(), name: name}
	s.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	s.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	s.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, s.name)
	})
	return s
}
