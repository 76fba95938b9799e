package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

func (a *app) deployCommand() *cli.Command {
	return &cli.Command{
		Name:      "deploy",
		Usage:     "deploy a module (a .wasm file or a Go guest directory) under a name; print its hash",
		UsageText: "reprise deploy [options] NAME FILE.wasm|GO-GUEST-DIR",
		Description: commandHelp(`Deploys the module as a new version of the function NAME and prints the
module's sha256 hash. A directory is built as a Go guest first (cached in
the data directory). The module is checked before it is stored: it must be
WebAssembly, import only reprise_v1 and wasi_snapshot_preview1, export its
memory and the entry function. Executions already started keep the version
they started with.`,
			"reprise deploy hello hello.wasm",
			"reprise deploy square examples/wasm/square"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "entry", Usage: "the exported function to call, `NAME`", Value: "run"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			args, err := argsN(c, "NAME", "FILE.wasm|GO-GUEST-DIR")
			if err != nil {
				return err
			}
			src, err := parseSource(args[1])
			if err != nil {
				return err
			}
			b, err := a.openBackend(c.Context)
			if err != nil {
				return err
			}
			defer closeReader(b, &err)
			wasm, err := a.load(c.Context, src)
			if err != nil {
				return err
			}
			f, err := a.deploy(c.Context, b, args[0], src, wasm, c.String("entry"))
			if err != nil {
				return err
			}
			a.log.Info("deployed", "function", f.Name, "version", f.Version)
			fmt.Fprintln(a.stdout, f.Module)
			return nil
		},
	}
}

func (a *app) functionsCommand() *cli.Command {
	return &cli.Command{
		Name:      "functions",
		Usage:     "list deployed functions: name, latest version, module hash",
		UsageText: "reprise functions [--json]",
		Description: commandHelp(`Lists the latest version of every deployed function with its module's
sha256 hash, entry export and deploy time. Reads the data directory (or the
server) only.`,
			"reprise functions"),
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "json", DisableDefaultText: true, Usage: "print a JSON array"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			if _, err := argsN(c); err != nil {
				return err
			}
			r, err := a.openReader()
			if err != nil {
				return err
			}
			defer closeReader(r, &err)
			fs, err := r.Functions(c.Context)
			if err != nil {
				return fmt.Errorf("list functions: %w", err)
			}
			if c.Bool("json") {
				type view struct {
					Name      string `json:"name"`
					Version   uint32 `json:"version"`
					Module    string `json:"module"`
					Entry     string `json:"entry"`
					CreatedOn string `json:"createdOn"`
				}
				vs := make([]view, 0, len(fs))
				for _, f := range fs {
					vs = append(vs, view{f.Name, f.Version, f.Module, f.Entry, msTime(f.CreatedOn)})
				}
				return a.writeJSON(vs)
			}
			if len(fs) == 0 {
				fmt.Fprintln(a.stderr, "no functions deployed", a.where(), "(`reprise deploy NAME FILE.wasm` deploys one)")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tMODULE\tENTRY\tDEPLOYED")
			for _, f := range fs {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", f.Name, f.Version, f.Module, f.Entry, localTime(f.CreatedOn))
			}
			return tw.Flush()
		},
	}
}

// source is a module to deploy: a .wasm file, or a Go guest directory to
// build.
type source struct {
	path string
	dir  bool
	name string // the function name it gets from `run`: base name without .wasm
}

func parseSource(path string) (source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return source{}, usageErrorf("%v: give a .wasm file or the directory of a Go guest", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return source{}, err
	}
	name := filepath.Base(abs)
	if !fi.IsDir() {
		name = strings.TrimSuffix(name, ".wasm")
	}
	return source{path: path, dir: fi.IsDir(), name: name}, nil
}

// load reads src's module, building it first if it is a directory.
func (a *app) load(ctx context.Context, src source) ([]byte, error) {
	if src.dir {
		return a.buildCached(ctx, src.path)
	}
	b, err := os.ReadFile(src.path)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	return b, nil
}

// deploy deploys the module of src as name, with the host's checks.
func (a *app) deploy(ctx context.Context, b backend, name string, src source, wasm []byte, entry string) (store.Function, error) {
	f, err := b.Deploy(ctx, name, wasm, entry)
	switch {
	case errors.Is(err, host.ErrInvalidModule), errors.Is(err, host.ErrBadName):
		return f, fmt.Errorf("cannot deploy %s as %q: %w", src.path, name, err)
	case err != nil:
		return f, fmt.Errorf("deploy %s as %q: %w", src.path, name, err)
	}
	a.log.Debug("deployed", "function", f.Name, "version", f.Version, "module", f.Module)
	return f, nil
}
