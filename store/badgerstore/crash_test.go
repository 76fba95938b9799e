package badgerstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// The crash and lock tests run this test binary again as a child process;
// these variables select the child's mode and its data directory.
const (
	envHelper = "REPRISE_BADGERSTORE_HELPER"
	envDir    = "REPRISE_BADGERSTORE_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envHelper) {
	case "":
		os.Exit(m.Run())
	case "crash":
		os.Exit(crashChild(os.Getenv(envDir)))
	case "lock":
		os.Exit(lockChild(os.Getenv(envDir)))
	case "counters":
		os.Exit(countersChild(os.Getenv(envDir)))
	case "purge":
		os.Exit(purgeChild(os.Getenv(envDir)))
	case "timers":
		os.Exit(timersChild(os.Getenv(envDir)))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode")
		os.Exit(2)
	}
}

func crashParam(id string) []byte { return []byte(strings.Repeat(id+";", 8)) }

// crashChild writes promises from many goroutines and prints "ack ID" for
// each acknowledged one, until it is killed (or, should the parent be gone,
// until a bound in count and time).
func crashChild(dir string) int {
	d, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A claimed task with a long lease: the parent checks that reopening voids it.
	_, _, err = d.StartExecution(ctx, store.Start{Promise: store.Create{ID: "leased", Timeout: store.NoTimeout}}, "child", time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var out sync.Mutex // one write(2) per line: a kill cannot split a line
	fmt.Println("started")
	deadline := time.Now().Add(60 * time.Second)
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := 0; n.Add(1) < 200_000 && time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("c%02d-%06d", g, i)
				_, _, err := d.CreatePromise(ctx, store.Create{
					ID: id, Timeout: store.NoTimeout, IdempotencyKey: id,
					Param: store.Value{Data: crashParam(id)}, Tags: map[string]string{"g": fmt.Sprint(g)},
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				out.Lock()
				os.Stdout.WriteString("ack " + id + "\n")
				out.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

func lockChild(dir string) int {
	d, err := Open(dir, Options{Logger: quietLogger()})
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("locked:", err)
	case err != nil:
		fmt.Println("error:", err)
	default:
		d.Close()
		fmt.Println("opened")
	}
	return 0
}

func helper(t *testing.T, mode, dir string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envDir+"="+dir)
	cmd.Stderr = os.Stderr
	return cmd
}

// killChild runs the helper process of mode on dir and passes each whole
// line it prints to onLine, which says whether the line acknowledged a
// write (and fails the test on a line it does not know). Once killAfter
// writes are acknowledged it kills the process with SIGKILL — no cleanup,
// no Close — and returns after the process has ended. A child that ends
// before the kill fails the test. A fragment without its newline was never
// acknowledged, so it is not passed on.
func killChild(t *testing.T, mode, dir string, killAfter int, onLine func(line string) (ack bool)) {
	t.Helper()
	cmd := helper(t, mode, dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	r := bufio.NewReader(stdout)
	acks, killed := 0, false
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if onLine(strings.TrimSuffix(line, "\n")) {
			acks++
		}
		if acks == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	waited = true
	if !killed {
		t.Fatalf("the %s child ended before the kill, after %d acknowledged writes: %v", mode, acks, err)
	}
	t.Logf("%s child killed after %d acknowledged writes (%v)", mode, acks, err)
}

// TestCrashRecovery kills a writing process with SIGKILL and checks that every
// write it acknowledged survives, whole, and that its leases are void. (A
// process crash: the kernel keeps what was written. Power loss, which the
// fsync per batch guards against, is beyond a test's reach.)
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	var acked []string
	started := false
	killChild(t, "crash", dir, 3000, func(line string) bool {
		switch {
		case line == "started":
			started = true
		case strings.HasPrefix(line, "ack "):
			acked = append(acked, strings.TrimPrefix(line, "ack "))
			return true
		default:
			t.Fatalf("child said %q", line)
		}
		return false
	})
	if !started {
		t.Fatal("the child never said it started")
	}

	clk := &clock{}
	clk.set(time.Now().UnixMilli())
	d := openAt(t, dir, clk)
	for _, id := range acked {
		p, err := d.GetPromise(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged write lost: %v", err)
		}
		var g, i int
		fmt.Sscanf(id, "c%d-%d", &g, &i)
		if string(p.Param.Data) != string(crashParam(id)) || p.IdempotencyKeyForCreate != id || p.Tags["g"] != fmt.Sprint(g) {
			t.Fatalf("acknowledged write damaged: %+v", p)
		}
	}
	all, _, err := d.SearchPromises(ctx, store.Query{IDGlob: "leased"})
	if err != nil || len(all) != 1 {
		t.Fatalf("leased execution: %v, %v", all, err)
	}
	claimed, _, err := d.ClaimTasks(ctx, "parent", clk.now(), clk.now()+1000, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Exec != "leased" {
		t.Fatalf("after the crash, claimed %v, %v; want the child's task, its lease voided", claimed, err)
	}
}

// TestOpenLockedByOtherProcess checks that a second process cannot open a
// store this one holds.
func TestOpenLockedByOtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	d := openAt(t, dir, nil)
	out, err := helper(t, "lock", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "locked:") || !strings.Contains(string(out), "data directory is in use by another process") {
		t.Fatalf("child opening a locked store said %q", out)
	}
	// Once closed, another process may open it.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := helper(t, "lock", dir).Output(); err != nil || string(out) != "opened\n" {
		t.Fatalf("child opening a released store said %q, %v", out, err)
	}
}
