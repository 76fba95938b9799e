// Package command is the reprise command-line tool: every command, its
// flags, help text and exit codes. cli/reprise is only its main function, so
// tests can also run the commands in-process with [Run]; [Main] is Run on
// the process's arguments and standard streams, with SIGINT and SIGTERM
// canceling the command's context.
//
// One run of the command line is an app (app.go): the standard streams,
// the global flags (--data, --cache-dir, --log-level, --engine, --server,
// --token, --allow-http) and the commands as its methods: run, build,
// deploy, functions, invoke, get, history, ls, resolve, reject, cancel,
// worker, serve and tenant, a file or two per group. Errors carry their exit
// code (errors.go: the Exit* constants, documented in `reprise --help`).
//
// # Where a command acts
//
// A command works on the data directory, or with --server on a running
// `reprise serve`, through two small interfaces (backend.go) so that each
// has one code path. A reader serves the read-only commands: on a data
// directory it reads the store without starting a host, so reading never
// runs an execution (a directory without a store reads as empty). A backend
// serves the commands that change things: a session (data.go) opens the
// store and starts a host on it, which resumes every unfinished execution
// while the command runs; a remote (remote.go) speaks the HTTP API through
// package client and maps its answers back to the store's types and
// sentinel errors, so output and exit codes are the same. Go guest
// directories are built here in both cases (build.go, cached in the data
// directory).
//
// serve (serve.go) starts a server.Server. With --no-auth it serves the
// data directory's own store as the single default tenant; otherwise a
// fleet serves the tenants of the tenants file (package tenant), each with
// a host and store of its own under DATA/tenants/NAME, its limits applied
// to that host's configuration (its storage limit to the store's quota).
// Every store, local or a tenant's, keeps --disk-reserve free on its disk:
// a write refused at either limit exits 5 (ExitStorageFull), or is a 507
// from a server. The data directory's host purges what is past --retention
// (7 days by default; forever keeps everything), a tenant's host what is
// past the tenant limit retention; a missing id's message says so.
//
// # Concurrency
//
// Most commands run on the goroutine that calls Run, plus the goroutines of
// the host they start (stopped by the session's close, deferred by every
// command that opens one). Of the package's own:
//
//   - Main's signal handling: the first signal cancels the command's
//     context and restores the default action, so a second one kills the
//     process.
//   - showProgress (progress.go) starts one goroutine that polls a waiting
//     command's execution every 200ms and draws a status line (or logs
//     changes at debug level); the stop it returns cancels it and waits
//     for it to end.
//   - The console (console.go) is stderr shared by log lines and that
//     status line; console.mu guards the status and every write, so the two
//     never garble each other.
//   - serve runs the API's http.Server, and the metrics' one with
//     --metrics-addr, each Serve on a goroutine of its own that reports on
//     the served channel. serve returns when one fails or the context ends;
//     at the end of the context it first shuts the API's server down,
//     letting requests in flight finish for up to 5s. Returning closes the
//     metrics' server and the hosts.
//   - The fleet opens a tenant's host at start, or on the goroutine of the
//     first request that needs it. fleet.mu guards the map of tenant slots
//     and the closed flag, and is never held while a store opens: the
//     opener publishes the slot's outcome under it and closes the slot's
//     ready channel, on which other requests for that tenant wait. A failed
//     open is retried by the first request 10s or more later. fleet.close
//     marks the fleet closed (an opener that finishes afterwards closes its
//     own host) and closes the open hosts in parallel.
//   - quietClose, the hosts' log handler, reads an atomic flag that close
//     sets, to drop the warnings of a host shutting down.
package command
