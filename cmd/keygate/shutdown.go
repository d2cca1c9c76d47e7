package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/keygate/keygate/idp"
)

// shutdown stops serve in order: readiness DOWN first (srv.Drain), then
// the public listeners drain (no new connections; requests in flight get
// until timeout), then the management listener, the last mgmtN of
// servers, so that its /health/ready says DOWN throughout the drain.
// Requests still running at the timeout are cut; the process then exits 0.
func shutdown(srv *idp.Server, servers []*http.Server, mgmtN int, timeout time.Duration, log *slog.Logger) {
	srv.Drain()
	log.Info("shutting down: readiness DOWN, draining requests in flight", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, hs := range servers[:len(servers)-mgmtN] {
		wg.Go(func() { drain(ctx, hs, log) })
	}
	wg.Wait()
	for _, hs := range servers[len(servers)-mgmtN:] {
		drain(ctx, hs, log)
	}
	log.Info("stopped")
}

// drain shuts hs down gracefully until ctx ends, then closes what is left.
func drain(ctx context.Context, hs *http.Server, log *slog.Logger) {
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("shutdown timeout reached with requests still in flight: closing them", "err", err)
		_ = hs.Close()
	}
}
