package host_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// The crash test runs a host in a child process (this test binary, started
// again in crashHostMain's mode) and kills it with SIGKILL.
const crashHostEnv = "REPRISE_TEST_CRASH_HOST"

const crashChildren = 40

// crashHostMain is the child process: open the data directory, deploy, invoke
// the long execution under a fixed id (a no-op when it already exists), and
// print its result. Guest log lines go to stdout, where the test watches them.
func crashHostMain() int {
	dir, guests := os.Getenv("REPRISE_TEST_DATA"), os.Getenv("REPRISE_TEST_GUESTS")
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := badgerstore.Open(dir, badgerstore.Options{Logger: log})
	if err != nil {
		fmt.Println("OPEN", err)
		return 1
	}
	cfg := host.Config{Store: db, Logger: log, CacheDir: os.Getenv("REPRISE_TEST_CACHE"), NewEngine: testEngine()}
	allowLoopbackHTTP(&cfg)
	ctx := context.Background()
	h, err := host.New(ctx, cfg)
	if err != nil {
		fmt.Println("HOST", err)
		return 1
	}
	for _, name := range []string{"crash", "recorder"} {
		wasm, err := os.ReadFile(filepath.Join(guests, name+".wasm"))
		if err == nil {
			_, err = h.Deploy(ctx, name, wasm, "")
		}
		if err != nil {
			fmt.Println("DEPLOY", err)
			return 1
		}
	}
	in, _ := json.Marshal(map[string]any{"children": crashChildren, "steps": 400, "sleep_ms": 400, "record_url": os.Getenv("REPRISE_TEST_RECORD")})
	id, err := h.Invoke(ctx, "crash", in, host.InvokeOptions{ID: "crash-run"})
	if err != nil {
		fmt.Println("INVOKE", err)
		return 1
	}
	p, err := h.Await(ctx, id)
	if err != nil {
		fmt.Println("AWAIT", err)
		return 1
	}
	fmt.Printf("RESULT %s %s\n", p.State, p.Value.Data)
	h.Close(ctx)
	db.Close()
	return 0
}

// crashHost is one incarnation of the child process.
type crashHost struct {
	cmd   *exec.Cmd
	lines chan string
}

func startCrashHost(t *testing.T, dir, record string) *crashHost {
	t.Helper()
	guest(t, "crash") // build the guests
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHostEnv+"=1", "REPRISE_TEST_DATA="+dir, "REPRISE_TEST_GUESTS="+guestDir,
		"REPRISE_TEST_CACHE="+cacheDir, "REPRISE_TEST_RECORD="+record)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &crashHost{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		close(ch.lines)
	}()
	return ch
}

// waitFor returns the first line containing s, or fails.
func (c *crashHost) waitFor(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("host process ended before printing %q", s)
			}
			if strings.Contains(l, s) {
				return l
			}
			if strings.HasPrefix(l, "OPEN") || strings.HasPrefix(l, "HOST") || strings.HasPrefix(l, "DEPLOY") || strings.HasPrefix(l, "INVOKE") || strings.HasPrefix(l, "AWAIT") {
				t.Fatalf("host process failed: %s", l)
			}
		case <-timeout:
			c.kill()
			t.Fatalf("no %q from the host process in 2 minutes", s)
		}
	}
}

func (c *crashHost) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

func TestCrashAndResumeRunsEveryChildOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills host processes")
	}
	rec := newRecorder(t)
	dir := t.TempDir()
	// Kill the host at several points: right after the first wave of
	// children, in the middle of the durable sleep, right after a later wave.
	kills := []struct {
		after string
		delay time.Duration
	}{
		{"wave 1 done", 0},
		{"wave 2 done", 150 * time.Millisecond},
		{"wave 3 done", 0},
	}
	for _, k := range kills {
		c := startCrashHost(t, dir, rec.url)
		c.waitFor(t, k.after)
		time.Sleep(k.delay)
		c.kill()
	}
	c := startCrashHost(t, dir, rec.url)
	line := c.waitFor(t, "RESULT ")
	c.cmd.Wait()

	var out struct{ Sum, Children int }
	state, value, _ := strings.Cut(strings.TrimPrefix(line, "RESULT "), " ")
	if state != "RESOLVED" {
		t.Fatalf("execution ended %s: %s", state, value)
	}
	if err := json.Unmarshal([]byte(value), &out); err != nil {
		t.Fatalf("result %q: %v", value, err)
	}
	if want := crashChildren * (crashChildren + 1) * (2*crashChildren + 1) / 6; out.Sum != want || out.Children != crashChildren {
		t.Fatalf("result %+v, want sum %d of %d children", out, want, crashChildren)
	}
	ids := rec.ids()
	if len(ids) != crashChildren {
		t.Fatalf("%d children reported, want %d: %v", len(ids), crashChildren, ids)
	}
	for _, id := range ids {
		// A replayed child resends its journaled token; a child whose body
		// ran again from scratch would have drawn a new one.
		if toks := rec.tokens(id); len(toks) != 1 {
			t.Errorf("child %s ran %d times from scratch (tokens %v)", id, len(toks), toks)
		}
	}
}
