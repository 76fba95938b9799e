package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/server"
)

// shutdownGrace is how long a stopping server lets requests in flight (an
// invoke waiting for its result) finish before it cuts them off.
const shutdownGrace = 5 * time.Second

func (a *app) serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the HTTP API: deploy, invoke, inspect, settle promises",
		UsageText: "reprise serve [--addr HOST:PORT] [--no-auth] [--allow-remote]",
		Description: commandHelp(`Runs Reprise as a service on the data directory: the HTTP/JSON API under /v1
(functions, invocations, executions, and durable promises compatible with
Resonate's API), /healthz, /readyz (ready once recovery has run) and
Prometheus /metrics. It listens at once and resumes unfinished executions
while /readyz says 503. On SIGINT or SIGTERM it stops accepting requests,
saves running executions (they resume on the next start) and exits 0.

This version serves one default tenant without authentication: --no-auth
says so explicitly. It listens on loopback only unless --allow-remote is
given, since anyone who can reach it can run code and settle promises.`,
			"reprise serve",
			"curl -X PUT --data-binary @square.wasm -H 'Content-Type: application/wasm' localhost:8420/v1/functions/square",
			"curl -d '{\"n\":3}' 'localhost:8420/v1/functions/square/invoke?wait=5s'"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8420", EnvVars: []string{"REPRISE_ADDR"}, Usage: "listen on `HOST:PORT` (port 0 picks a free one)"},
			&cli.BoolFlag{Name: "no-auth", DisableDefaultText: true, Usage: "serve without authentication, as the single default tenant (the only mode of this version)"},
			&cli.BoolFlag{Name: "allow-remote", DisableDefaultText: true, Usage: "allow listening on an address other than loopback"},
			&cli.DurationFlag{Name: "max-wait", Value: server.DefaultMaxWait, Usage: "cap of an invoke's ?wait"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			if _, err := argsN(c); err != nil {
				return err
			}
			addr := c.String("addr")
			if err := checkLoopback(addr, c.Bool("allow-remote")); err != nil {
				return err
			}
			return a.serve(c.Context, addr, c.Duration("max-wait"))
		},
	}
}

// checkLoopback refuses a non-loopback address unless allowed: without
// authentication, whoever reaches the port can run code on this machine.
func checkLoopback(addr string, allowRemote bool) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8420", addr)
	}
	if allowRemote {
		return nil
	}
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageErrorf("--addr %q is not a loopback address: this server has no authentication yet, so anyone who can reach it could deploy and run code; listen on 127.0.0.1, or pass --allow-remote if a firewall or proxy guards it", addr)
}

// serve listens first (so /healthz answers and the port is taken at once),
// then opens the host, whose recovery may take a while, and serves until
// ctx ends.
func (a *app) serve(ctx context.Context, addr string, maxWait time.Duration) (err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	api := server.New(nil, server.Config{Logger: a.log, MaxWait: maxWait})
	srv := server.HTTPServer(addr, api, maxWait, a.log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// Tests and scripts read the address from this line (port 0 picks one).
	fmt.Fprintf(a.stdout, "listening on http://%s\n", ln.Addr())

	s, err := a.openHost(ctx)
	if err != nil {
		srv.Close()
		return err
	}
	defer s.closeInto(&err) // after the HTTP server: executions are saved, then the store closes
	api.SetHost(s.h)
	a.log.Info("serving", "addr", ln.Addr().String(), "data", a.dataDir)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("stopping: unfinished executions are saved and resume on the next start")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // waits that outlast the grace are cut off; their executions go on durably
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
