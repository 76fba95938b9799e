package command

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// echoGuest resolves with its input: a guest without durable calls.
func echoGuest() []byte {
	m := wt.Module{Memory: 2}
	input := m.Import("reprise_v1", "input", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	resolve := m.Import("reprise_v1", "resolve", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Func("run", nil, wt.Cat(wt.I32Const(0), wt.I32Const(0), wt.I32Const(65536), wt.Call(input), wt.Call(resolve), []byte{0x1a}))
	return m.Bytes()
}

// localSession runs the command line's local backend on a new data
// directory, writing stdout to out.
func localSession(t testing.TB, out *bytes.Buffer) (*app, *session) {
	t.Helper()
	dir := t.TempDir()
	a := &app{stdout: out, stderr: newConsole(&bytes.Buffer{}), level: new(slog.LevelVar),
		dataDir: dir, cacheDir: filepath.Join(dir, "cache")}
	a.log = newLogger(a.stderr, a.level)
	s, err := a.openHost(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Error(err)
		}
	})
	return a, s
}

// TestLocalInvokeWaitOfAGuestWithoutDurableCallsIsOneCommit: `reprise
// invoke --wait` on a data directory writes such a guest's start and
// result in one commit, as the server's ?wait does; without --wait they are
// two.
func TestLocalInvokeWaitOfAGuestWithoutDurableCallsIsOneCommit(t *testing.T) {
	var out bytes.Buffer
	a, s := localSession(t, &out)
	ctx := t.Context()
	if _, err := s.Deploy(ctx, "echo", echoGuest(), ""); err != nil {
		t.Fatal(err)
	}
	// syncs is how many durable commits invoke made.
	syncs := func(invoke func() error) uint64 {
		t.Helper()
		before, _ := s.db.Stats(ctx)
		if err := invoke(); err != nil {
			t.Fatal(err)
		}
		after, _ := s.db.Stats(ctx)
		return after.Syncs.Count - before.Syncs.Count
	}
	for i := range 3 {
		out.Reset()
		n := syncs(func() error { return a.invoke(ctx, s, "echo", []byte(`{"i":1}`), host.InvokeOptions{}, true) })
		if n != 1 || out.String() != "{\"i\":1}\n" {
			t.Fatalf("invoke --wait #%d: %d commits, printed %q; want 1 commit", i, n, out.String())
		}
	}
	if got := s.h.Stats().OneCommit; got != 3 {
		t.Fatalf("host counted %d one-commit invocations, want 3", got)
	}
	n := syncs(func() error { return a.invoke(ctx, s, "echo", []byte(`{}`), host.InvokeOptions{}, false) })
	if n != 2 {
		t.Errorf("invoke without --wait: %d commits, want 2 (the start, then the result)", n)
	}
}

// An invoke --wait interrupted before the execution made a durable step
// leaves nothing behind, and says so; one interrupted later leaves the
// execution safe (TestCtrlCDuringInvokeWaitLeavesTheExecutionSafe in
// cli/reprise).
func TestInterruptedInvokeWaitBeforeADurableStepSaysNothingIsKept(t *testing.T) {
	a, s := localSession(t, &bytes.Buffer{})
	m := wt.Module{Memory: 1}
	m.Func("run", nil, wt.Forever)
	if _, err := s.Deploy(t.Context(), "spin", m.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := a.invoke(ctx, s, "spin", nil, host.InvokeOptions{ID: "s1"}, true)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitInterrupted || !strings.Contains(ee.msg, "nothing of it is kept") ||
		!strings.Contains(ee.msg, "reprise invoke spin --id s1 --wait") {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Promise(t.Context(), "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the dropped execution: %v", err)
	}
}

// BenchmarkLocalInvokeWait is `reprise invoke --wait` of a guest without
// durable calls on a data directory, as the command does it now
// (InvokeWait: one commit) and as it did before (Invoke, then Await: two),
// in one run so that the two see the same machine. commits/op is the
// store's sync count.
func BenchmarkLocalInvokeWait(b *testing.B) {
	for _, bc := range []struct {
		name   string
		invoke func(a *app, s *session) error
	}{
		{"InvokeWait", func(a *app, s *session) error {
			return a.invoke(b.Context(), s, "echo", []byte(`{}`), host.InvokeOptions{}, true)
		}},
		{"InvokeThenAwait", func(a *app, s *session) error {
			id, err := s.Invoke(b.Context(), "echo", []byte(`{}`), host.InvokeOptions{})
			if err != nil {
				return err
			}
			p, err := s.h.Await(b.Context(), id)
			if err != nil {
				return err
			}
			return a.outcome(p)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var out bytes.Buffer
			a, s := localSession(b, &out)
			if _, err := s.Deploy(b.Context(), "echo", echoGuest(), ""); err != nil {
				b.Fatal(err)
			}
			before, _ := s.db.Stats(b.Context())
			for b.Loop() {
				out.Reset()
				if err := bc.invoke(a, s); err != nil {
					b.Fatal(err)
				}
			}
			after, _ := s.db.Stats(b.Context())
			b.ReportMetric(float64(after.Syncs.Count-before.Syncs.Count)/float64(b.N), "commits/op")
		})
	}
}
