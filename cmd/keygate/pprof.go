//go:build pprof

// Built with -tags pprof, keygate serves net/http/pprof on
// $KEYGATE_PPROF_ADDR (default 127.0.0.1:6060) for profiling make bench.
// Release builds never include it.
package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("KEYGATE_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Warn("pprof listener", "err", err)
		}
	}()
}
