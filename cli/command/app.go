package command

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
	"github.com/reprise-wasm/reprise/tenant"
)

// Main runs the command line of this process and returns its exit code.
// SIGINT and SIGTERM cancel the command's context, so it can leave its work
// in a safe state; a second signal kills the process at once.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default action: a second Ctrl-C
	// is the user insisting (the data stays safe either way).
	context.AfterFunc(ctx, stop)
	return Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
}

// Run runs the command line args (args[0] is the program name) with the
// given standard streams and returns the exit code. Canceling ctx is an
// interrupt (Ctrl-C).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, outTTY: isTerminal(stdout), stderr: newConsole(stderr)}
	a.level = new(slog.LevelVar)
	a.log = newLogger(a.stderr, a.level)
	cliApp := a.newCLI()
	err := cliApp.RunContext(ctx, reorderArgs(cliApp, args))
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(a.stderr, "reprise: %v\n", err)
	return exitCode(err)
}

// app is one run of the command line: the standard streams and what the
// global flags say. Commands are its methods.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	outTTY bool // stdout is a terminal: pretty-print, show progress
	stderr *console
	level  *slog.LevelVar
	log    *slog.Logger

	dataDir  string
	cacheDir string
	// remote is the server of --server; nil works on the data directory.
	remote      *remote
	allowHTTP   []string
	allowRanges []netip.Prefix // --allow-http-ranges
	// diskReserve is the free space, in bytes, that writes to a store
	// must leave on its disk (--disk-reserve).
	diskReserve int64
	// retention is how long the data directory's host keeps finished
	// executions and settled promises (--retention); negative: for ever.
	retention time.Duration
	// newEngine creates the WebAssembly engine (--engine); nil is wazero,
	// the default (see engineOrDefault).
	newEngine func(context.Context, engine.Config) (engine.Engine, error)
}

// engineOrDefault is the constructor of the engine guests run on:
// --engine's, or wazero's.
func (a *app) engineOrDefault() func(context.Context, engine.Config) (engine.Engine, error) {
	if a.newEngine != nil {
		return a.newEngine
	}
	return func(ctx context.Context, cfg engine.Config) (engine.Engine, error) { return wazeroengine.New(ctx, cfg) }
}

func (a *app) newCLI() *cli.App {
	return &cli.App{
		Name:      "reprise",
		Usage:     "run durable WebAssembly functions",
		UsageText: "reprise [global options] command [command options] [arguments...]",
		Version:   version(),
		Description: `Reprise runs functions compiled to WebAssembly as durable executions: their
calls to other functions, sleeps, HTTP requests and promises settled from
outside are journaled, so an execution interrupted by a crash or a restart
resumes where it was. Everything lives in one data directory (--data); there
is no server to start. One process uses a data directory at a time.

With --server URL (or REPRISE_SERVER) the same commands work on a running
` + "`reprise serve`" + ` instead, over its HTTP API, with --token (or REPRISE_TOKEN)
as the bearer token: same arguments, output and exit codes. The server runs
the executions; Go guest directories are still built here (cached in --data).

Values (--input, --value) are JSON. Results are printed on stdout, errors and
logs on stderr.

Example (in a clone of the repository, with Go installed):
   reprise run examples/wasm/fanout examples/wasm/square --input '{"n":100,"child":"square"}'`,
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitCodesHelp + "\n",
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name: "data", EnvVars: []string{"REPRISE_DATA"}, Value: defaultDataDir(),
				DefaultText: "$XDG_DATA_HOME/reprise, else ~/.local/share/reprise",
				Usage:       "data directory `DIR`: DIR/store (the store), DIR/cache (compiled code), DIR/build (built Go guests)",
			},
			&cli.StringFlag{
				Name: "cache-dir", EnvVars: []string{"REPRISE_CACHE_DIR"}, DefaultText: "DATA/cache",
				Usage: "compilation cache `DIR`, so a restart need not recompile; may be shared by several data directories",
			},
			&cli.StringFlag{
				Name: "log-level", EnvVars: []string{"REPRISE_LOG_LEVEL"}, Value: "info",
				Usage: "`LEVEL` of the logs on stderr: debug, info, warn or error; guest log lines are info",
			},
			&cli.StringFlag{
				Name: "engine", EnvVars: []string{"REPRISE_ENGINE"}, Value: "wazero",
				Usage: "WebAssembly `ENGINE` guests run on: wazero (pure Go) or wasmtime (a build with -tags wasmtime)",
			},
			&cli.StringFlag{
				Name: "server", EnvVars: []string{"REPRISE_SERVER"},
				Usage: "work on the reprise serve at `URL` (e.g. http://127.0.0.1:8420) over its HTTP API instead of on the data directory",
			},
			&cli.StringFlag{
				Name: "token", EnvVars: []string{"REPRISE_TOKEN"}, DefaultText: "none",
				Usage: "with --server, send `TOKEN` (from `reprise tenant create`) as \"Authorization: Bearer TOKEN\"",
			},
			&cli.StringFlag{
				Name: "disk-reserve", EnvVars: []string{"REPRISE_DISK_RESERVE"}, Value: defaultDiskReserve,
				Usage: "free `SIZE` writes must leave on the data's disk; at it, writes are refused (exit 5, on a server 507) and reads go on, so a full disk never crashes the process",
			},
			&cli.StringFlag{
				Name: "retention", EnvVars: []string{"REPRISE_RETENTION"}, Value: "7d",
				Usage: "keep finished executions and settled promises of the data directory for `DURATION` (72h, 30d) after they settle, then purge them, journals included; forever (or 0) keeps everything. A server's tenants have the tenant limit retention instead",
			},
			&cli.StringSliceFlag{
				Name: "allow-http", EnvVars: []string{"REPRISE_ALLOW_HTTP"},
				Usage: "grant guests outbound HTTP to these `HOSTS` (comma-separated names; *.example.com for subdomains, * for all); default none",
			},
			&cli.StringSliceFlag{
				Name: "allow-http-ranges", EnvVars: []string{"REPRISE_ALLOW_HTTP_RANGES"},
				Usage: "let guests connect to these internal address `CIDRS` (loopback, private, link-local, ... are refused by the address dialled; an address or localhost named in --allow-http is allowed too); default none",
			},
		},
		Commands: []*cli.Command{
			a.runCommand(), a.buildCommand(), a.deployCommand(), a.functionsCommand(),
			a.invokeCommand(), a.getCommand(), a.historyCommand(), a.lsCommand(),
			a.resolveCommand(), a.rejectCommand(), a.cancelCommand(),
			a.localOnly(a.workerCommand(), "a server runs its executions itself; run `reprise worker` on the data directory, not against a server"),
			a.localOnly(a.serveCommand(), "it starts a server on the data directory; drop --server (and REPRISE_SERVER) to start one"),
			a.localOnly(a.tenantCommand(), "tenants live in the server's data directory; run `reprise tenant` on the server's machine with --data"),
		},
		Before:         a.before,
		Action:         rootAction,
		Writer:         a.stdout,
		ErrWriter:      a.stderr,
		Reader:         a.stdin,
		Suggest:        true,
		OnUsageError:   onUsageError,
		ExitErrHandler: func(*cli.Context, error) {}, // Run prints errors and picks exit codes
	}
}

// before reads the global flags.
func (a *app) before(c *cli.Context) error {
	l, err := parseLevel(c.String("log-level"))
	if err != nil {
		return err
	}
	a.level.Set(l)
	a.dataDir = c.String("data")
	if a.dataDir == "" {
		return usageErrorf("no data directory: set --data or REPRISE_DATA (the home directory is unknown)")
	}
	if a.dataDir, err = filepath.Abs(a.dataDir); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	a.cacheDir = c.String("cache-dir")
	if a.cacheDir == "" {
		a.cacheDir = filepath.Join(a.dataDir, "cache")
	}
	if a.diskReserve, err = tenant.ParseSize(c.String("disk-reserve")); err != nil {
		return usageErrorf("--disk-reserve: %v", err)
	}
	r, err := tenant.ParseRetention(c.String("retention"))
	if err != nil {
		return usageErrorf("--retention: %v", err)
	}
	a.retention = time.Duration(r) // tenant.Forever is negative: host.KeepForever
	switch name := c.String("engine"); name {
	case "wazero": // the default
	case "wasmtime":
		if a.newEngine, err = wasmtimeEngine(); err != nil {
			return withCode(ExitUsage, err)
		}
	default:
		return usageErrorf("unknown engine %q: --engine is wazero or wasmtime", name)
	}
	if url := c.String("server"); url != "" {
		if a.remote, err = newRemote(url, c.String("token")); err != nil {
			return err
		}
	}
	for _, h := range c.StringSlice("allow-http") {
		for _, h := range strings.Split(h, ",") {
			if h = strings.TrimSpace(h); h != "" {
				a.allowHTTP = append(a.allowHTTP, strings.ToLower(h))
			}
		}
	}
	for _, r := range splitList(c.StringSlice("allow-http-ranges")) {
		p, err := tenant.ParseAddrRange(r)
		if err != nil {
			return usageErrorf("--allow-http-ranges: %q is not an address range: write a CIDR such as 10.1.0.0/16, or an address", r)
		}
		a.allowRanges = append(a.allowRanges, p)
	}
	return nil
}

// localOnly makes cmd a usage error with --server, saying why.
func (a *app) localOnly(cmd *cli.Command, why string) *cli.Command {
	next := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		if a.remote != nil {
			return usageErrorf("reprise %s cannot be used with --server (or REPRISE_SERVER): %s", cmd.Name, why)
		}
		if next != nil {
			return next(c)
		}
		return nil
	}
	return cmd
}

// where says where the commands work, for messages: "in data directory
// DIR" or "on server URL".
func (a *app) where() string {
	if a.remote != nil {
		return "on server " + a.remote.c.URL()
	}
	return "in data directory " + a.dataDir
}

// whereFlag is the flag that chooses where, for messages.
func (a *app) whereFlag() string {
	if a.remote != nil {
		return "--server"
	}
	return "--data"
}

// rootAction runs when no command matched: show help, or name the unknown
// command (urfave/cli would otherwise ignore it and exit 0).
func rootAction(c *cli.Context) error {
	if c.Args().Present() {
		return usageErrorf("unknown command %q: `reprise --help` lists the commands", c.Args().First())
	}
	return cli.ShowAppHelp(c)
}

// onUsageError turns flag-parsing errors into exit code 2 with a pointer to
// the help, instead of urfave/cli's full help dump on stdout.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	name := "reprise"
	if isSubcommand && c.Command != nil {
		name += " " + c.Command.Name
	}
	return usageErrorf("%v; `%s --help` shows the usage", err, name)
}

// defaultDataDir is $XDG_DATA_HOME/reprise, else ~/.local/share/reprise.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "reprise")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "share", "reprise")
}

// version is the main module's version from the build info: a tagged
// version for `go install ...@vX`, "(devel)" with the VCS revision otherwise.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "(devel)"
	}
	v := bi.Main.Version
	if v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (revision %.12s%s)", rev, modified)
	}
	return v
}

// argsN checks a command got exactly the arguments named in want (e.g.
// "NAME", "FILE.wasm|DIR") and returns them.
func argsN(c *cli.Context, want ...string) ([]string, error) {
	got := c.Args().Slice()
	if len(got) == len(want) {
		return got, nil
	}
	usage := "reprise " + c.Command.Name + " " + strings.Join(want, " ")
	if len(got) < len(want) {
		return nil, usageErrorf("missing %s; usage: %s (`reprise %s --help` has an example)", want[len(got)], usage, c.Command.Name)
	}
	return nil, usageErrorf("unexpected argument %q; usage: %s", got[len(want)], usage)
}

// commandHelp builds a command's description: what it does, then an example.
func commandHelp(what string, examples ...string) string {
	return what + "\n\nExample:\n   " + strings.Join(examples, "\n   ")
}
