package main

// End-to-end tests: they build the reprise binary once and drive it as a
// subprocess, each test on its own data directory. The Go example guests are
// built once (with `reprise build`) and their compiled code is shared through
// one --cache-dir, so most commands take milliseconds.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	bin      string            // the reprise binary under test
	wasm     map[string]string // example name → its built .wasm
	cacheDir string            // compilation cache shared by every test
	examples string            // examples/wasm in this repository
)

// Examples the tests use; each is built once.
var exampleNames = []string{"hello", "fanout", "square", "sleep", "approval", "httpcall"}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "reprise-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin = filepath.Join(tmp, "reprise")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cacheDir = filepath.Join(tmp, "cache")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build reprise: %v\n%s", err, out)
		return 1
	}
	examples, _ = filepath.Abs("../../examples/wasm")

	// Build the examples in parallel, then deploy them once into a scratch
	// data directory so the shared cache holds their compiled code.
	wasm = map[string]string{}
	errs := make(chan error, len(exampleNames))
	for _, name := range exampleNames {
		out := filepath.Join(tmp, name+".wasm")
		wasm[name] = out
		go func() {
			r := exec.Command(bin, "build", filepath.Join(examples, name), "-o", out)
			if b, err := r.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("reprise build %s: %v\n%s", name, err, b)
				return
			}
			errs <- nil
		}()
	}
	for range exampleNames {
		if err := <-errs; err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	scratch := filepath.Join(tmp, "scratch")
	for _, name := range exampleNames {
		c := exec.Command(bin, "--data", scratch, "--cache-dir", cacheDir, "deploy", name, wasm[name])
		if b, err := c.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "warm the cache with %s: %v\n%s", name, err, b)
			return 1
		}
	}
	return m.Run()
}

// result is how a reprise process ended.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// repriseCmd prepares `reprise --data data args...` with a clean environment
// and the shared compilation cache.
func repriseCmd(ctx context.Context, data string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, bin, append([]string{"--data", data}, args...)...)
	env := []string{"REPRISE_CACHE_DIR=" + cacheDir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REPRISE_") {
			env = append(env, kv)
		}
	}
	c.Env = env
	return c
}

// reprise runs reprise to its end.
func reprise(t *testing.T, data string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := repriseCmd(ctx, data, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	r := result{stdout: out.String(), stderr: errb.String(), code: c.ProcessState.ExitCode()}
	if err != nil && r.code <= 0 {
		t.Fatalf("reprise %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

// ok runs reprise, requires success and returns its stdout, trimmed.
func ok(t *testing.T, data string, args ...string) string {
	t.Helper()
	r := reprise(t, data, args...)
	if r.code != 0 {
		t.Fatalf("reprise %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimSpace(r.stdout)
}

// fails runs reprise and requires exit code code and every one of msgs in
// its stderr.
func fails(t *testing.T, code int, data string, args []string, msgs ...string) result {
	t.Helper()
	r := reprise(t, data, args...)
	if r.code != code {
		t.Errorf("reprise %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("reprise %s: stderr lacks %q: %s", strings.Join(args, " "), m, r)
		}
	}
	return r
}

// process is a reprise running in the background, its stderr watched.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  bytes.Buffer
	mu   sync.Mutex // guards err
	err  strings.Builder
	line chan struct{} // signaled on each stderr line
	done chan struct{}
}

func start(t *testing.T, data string, args ...string) *process {
	t.Helper()
	p := &process{t: t, line: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = repriseCmd(context.Background(), data, args...)
	p.cmd.Stdout = &p.out
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.err.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.line <- struct{}{}:
			default:
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *process) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err.String()
}

// waitFor waits until the process's stderr contains s.
func (p *process) waitFor(s string) {
	p.t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(p.stderr(), s) {
		select {
		case <-p.line:
		case <-p.done:
			if !strings.Contains(p.stderr(), s) {
				p.t.Fatalf("process ended before its stderr showed %q:\n%s", s, p.stderr())
			}
		case <-deadline:
			p.t.Fatalf("stderr never showed %q:\n%s", s, p.stderr())
		}
	}
}

// signal sends sig and waits for the process to end; it returns the result.
func (p *process) signal(sig os.Signal) result {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	return p.wait()
}

func (p *process) wait() result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.t.Fatalf("process did not end:\n%s", p.stderr())
	}
	// ExitCode is -1 for a process killed by a signal.
	return result{stdout: p.out.String(), stderr: p.stderr(), code: p.cmd.ProcessState.ExitCode()}
}
