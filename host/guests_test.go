package host_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Go guests are built once per test binary, all in parallel, into one folder;
// compiled machine code is shared through one wazero cache folder.
var (
	guestOnce sync.Once
	guestDir  string
	guestErr  error
	cacheDir  string
)

// guestSources maps a guest's name to its package folder.
var guestSources = map[string]string{
	"echo": "testdata/guests/echo", "noop": "testdata/guests/noop", "misbehave": "testdata/guests/misbehave",
	"steps": "testdata/guests/steps", "crash": "testdata/guests/crash", "recorder": "testdata/guests/recorder",
	"nondet": "testdata/guests/nondet", "approve": "testdata/guests/approve", "race": "testdata/guests/race",
	"hello": "../examples/wasm/hello", "fanout": "../examples/wasm/fanout", "square": "../examples/wasm/square",
	"sleep": "../examples/wasm/sleep", "approval": "../examples/wasm/approval", "httpcall": "../examples/wasm/httpcall",
}

func TestMain(m *testing.M) {
	if os.Getenv(crashHostEnv) != "" {
		os.Exit(crashHostMain())
	}
	dir, err := os.MkdirTemp("", "reprise-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	guestDir = filepath.Join(dir, "guests")
	cacheDir = filepath.Join(dir, "cache")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildGuests() {
	if err := os.MkdirAll(guestDir, 0o755); err != nil {
		guestErr = err
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for name, src := range guestSources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := buildGuest(src, filepath.Join(guestDir, name+".wasm")); err != nil {
				mu.Lock()
				guestErr = fmt.Errorf("build guest %s: %w", name, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func buildGuest(src, out string) error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./"+src)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	return nil
}

// guest returns the bytes of a Go test guest, building all of them on first use.
func guest(t testing.TB, name string) []byte {
	t.Helper()
	guestOnce.Do(buildGuests)
	if guestErr != nil {
		t.Fatal(guestErr)
	}
	if _, ok := guestSources[name]; !ok {
		t.Fatalf("no guest %q", name)
	}
	b, err := os.ReadFile(filepath.Join(guestDir, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
