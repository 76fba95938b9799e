package command

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

func (a *app) buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build a Go guest directory into a .wasm module",
		UsageText: "reprise build [options] DIR",
		Description: commandHelp(`Builds the Go guest (a main package that registers its handler with
reprise.Handle in init) in DIR as a WASI reactor module, with
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath.
Needs the go command in PATH. run and deploy accept DIR directly and cache
the build in the data directory; build is for when you want the file.`,
			"reprise build examples/wasm/hello -o hello.wasm"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the module to `FILE.wasm`", DefaultText: "DIR's base name + .wasm, here"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			args, err := argsN(c, "DIR")
			if err != nil {
				return err
			}
			dir := args[0]
			if err := checkGuestDir(dir); err != nil {
				return err
			}
			out := c.String("output")
			if out == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				out = filepath.Base(abs) + ".wasm"
			}
			if err := a.goBuild(c.Context, dir, out); err != nil {
				return err
			}
			if fi, err := os.Stat(out); err == nil {
				a.log.Info("built", "file", out, "bytes", fi.Size())
			}
			return nil
		},
	}
}

// checkGuestDir checks that dir is a directory holding a Go package.
func checkGuestDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return usageErrorf("%v: give the directory of a Go guest (a main package calling reprise.Handle)", err)
	}
	if !fi.IsDir() {
		return usageErrorf("%s is not a directory: give the directory of a Go guest (a main package calling reprise.Handle)", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return nil
		}
	}
	return usageErrorf("%s has no Go files: a Go guest is a main package that registers its handler with reprise.Handle in init (see guest-sdk/go/README.md and examples/wasm)", dir)
}

// goGuestEnv is the environment of go commands that build guests.
func goGuestEnv() []string { return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm") }

// goGuestFlags are the build flags of a guest: a reactor (no _start; the
// host calls run), without local paths in the binary.
var goGuestFlags = []string{"-buildmode=c-shared", "-trimpath"}

// goTool finds the go command.
func goTool() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("building a Go guest needs the go command, which is not in PATH: install Go (https://go.dev/dl/) or give a .wasm file")
	}
	return p, nil
}

// goBuild builds the guest in dir to the file out; go's own messages go to
// stderr.
func (a *app) goBuild(ctx context.Context, dir, out string) error {
	goCmd, err := goTool()
	if err != nil {
		return err
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return err
	}
	args := append(append([]string{"build"}, goGuestFlags...), "-o", out, ".")
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = goGuestEnv()
	cmd.Stdout = a.stderr
	cmd.Stderr = a.stderr
	a.log.Debug("building Go guest", "dir", dir, "cmd", "GOOS=wasip1 GOARCH=wasm go "+strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return interrupted("interrupted while building " + dir)
		}
		return fmt.Errorf("go build of the guest in %s failed (go's messages are above): %w", dir, err)
	}
	return nil
}

// buildCached returns the module built from the Go guest in dir, from the
// data directory's build cache when the sources have not changed.
func (a *app) buildCached(ctx context.Context, dir string) ([]byte, error) {
	if err := checkGuestDir(dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cacheDir := filepath.Join(a.dataDir, "build")
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	base := filepath.Base(abs)
	key, err := guestKey(ctx, dir)
	if err != nil {
		// go list failed (a syntax error, a missing module): building says why.
		a.log.Debug("no build cache key", "dir", dir, "err", err)
		tmp := filepath.Join(cacheDir, base+".uncached.wasm")
		defer os.Remove(tmp)
		if err := a.goBuild(ctx, dir, tmp); err != nil {
			return nil, err
		}
		return os.ReadFile(tmp)
	}
	path := filepath.Join(cacheDir, base+"-"+key+".wasm")
	if b, err := os.ReadFile(path); err == nil {
		a.log.Debug("using cached build", "dir", dir, "file", path)
		return b, nil
	}
	a.log.Info("building Go guest", "dir", dir)
	f, err := os.CreateTemp(cacheDir, base+"-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := a.goBuild(ctx, dir, f.Name()); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, err
	}
	// Rename is atomic: a concurrent reader sees the old build or the new.
	if err := os.Rename(f.Name(), path); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	// Older builds of a guest of that name are stale: keep the cache small.
	if old, _ := filepath.Glob(filepath.Join(cacheDir, base+"-*.wasm")); len(old) > 1 {
		for _, o := range old {
			k := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(o), base+"-"), ".wasm")
			if _, err := hex.DecodeString(k); o != path && len(k) == len(key) && err == nil {
				os.Remove(o)
			}
		}
	}
	return b, nil
}

// guestKey hashes what a guest's build depends on: the Go version, GOFLAGS,
// the build flags, and the Go files of every non-standard package the
// guest imports (its own, the SDK's even when it is in the same module),
// with each module's go.mod and go.sum.
func guestKey(ctx context.Context, dir string) (string, error) {
	goCmd, err := goTool()
	if err != nil {
		return "", err
	}
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = dir
		cmd.Env = goGuestEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go %s: %w: %s", args[0], err, bytes.TrimSpace(stderr.Bytes()))
		}
		return out, nil
	}
	goVersion, err := run("env", "GOVERSION")
	if err != nil {
		return "", err
	}
	const format = `{{if not .Standard}}{{.Dir}}{{"\t"}}{{join .GoFiles ","}}{{"\t"}}{{join .EmbedFiles ","}}{{"\t"}}{{with .Module}}{{.GoMod}}{{end}}{{end}}`
	list, err := run("list", "-deps", "-f", format, ".")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", bytes.TrimSpace(goVersion), os.Getenv("GOFLAGS"), strings.Join(goGuestFlags, " "))
	hashFile := func(path string) error {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(h, "%s\x00absent\x00", path)
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00", path)
		_, err = io.Copy(h, f)
		h.Write([]byte{0})
		return err
	}
	seenMod := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 4 {
			continue // a standard-library package: an empty line
		}
		pkgDir, goFiles, embeds, goMod := fields[0], fields[1], fields[2], fields[3]
		for _, name := range append(strings.Split(goFiles, ","), strings.Split(embeds, ",")...) {
			if name == "" {
				continue
			}
			if err := hashFile(filepath.Join(pkgDir, name)); err != nil {
				return "", err
			}
		}
		if goMod != "" && !seenMod[goMod] {
			seenMod[goMod] = true
			if err := hashFile(goMod); err != nil {
				return "", err
			}
			if err := hashFile(filepath.Join(filepath.Dir(goMod), "go.sum")); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}
