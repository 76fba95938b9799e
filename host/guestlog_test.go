package host_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// Guest log text is data: a field of the host's record, escaped, bounded.

// records collects log records, and renders them as text lines too.
type records struct {
	mu   sync.Mutex // guards recs and text
	recs []slog.Record
	text bytes.Buffer
}

func (c *records) Enabled(context.Context, slog.Level) bool { return true }
func (c *records) Handle(ctx context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return slog.NewTextHandler(&c.text, nil).Handle(ctx, r)
}
func (c *records) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *records) WithGroup(string) slog.Handler      { return c }

// guest returns the records whose message is msg, with their "text".
func (c *records) guest(msg string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.recs {
		if r.Message != msg {
			continue
		}
		text := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "text" {
				text = a.Value.String()
			}
			return true
		})
		out = append(out, text)
	}
	return out
}

// guestLogs makes a guest that logs text (at level) n times, then, when
// sleepNs > 0, awaits a durable sleep and logs it n times more.
func guestLogs(level uint32, text string, n uint32, sleepNs int64) []byte {
	m := &wmod{}
	logf := m.imp("log", []byte{vI32, vI32, vI32}, nil)
	sleep := m.imp("sleep", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	logs := countdown(0, n, cat(i32const(level), i32const(reqOff), i32const(uint32(len(text))), call(logf)))
	code := logs
	if sleepNs > 0 {
		code = cat(logs, i64const(sleepNs), call(sleep), call(await), []byte{0x1a}, countdown(1, n, cat(i32const(level), i32const(reqOff), i32const(uint32(len(text))), call(logf))))
	}
	m.fn("run", []byte{vI32, vI32}, code)
	m.data = append(m.data, wdata{Offset: reqOff, Bytes: []byte(text)})
	return m.bytes()
}

func TestGuestLogIsEscapedDataInOneField(t *testing.T) {
	rec := &records{}
	h := newHost(t, func(c *host.Config) { c.Logger = slog.New(rec) })
	forged := "fine\n2026-12-07T00:00:00Z ERROR store failed tenant=alice\x1b[2J\x00\u202eevil\xff"
	h.deployRaw("g", guestLogs(3, forged, 1, 0))
	if p := h.run("g", nil, host.InvokeOptions{}); p.State != store.Resolved {
		t.Fatalf("execution %s %s", p.State, p.Value.Data)
	}
	got := rec.guest("guest log")
	if len(got) != 1 {
		t.Fatalf("%d guest log records, want 1: %q", len(got), got)
	}
	want := `fine\n2026-12-07T00:00:00Z ERROR store failed tenant=alice\x1b[2J\x00\u202eevil\xff`
	if got[0] != want {
		t.Fatalf("guest text %q, want it escaped as %q", got[0], want)
	}
	rec.mu.Lock()
	out := rec.text.String()
	rec.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, "ERROR store failed") && !strings.Contains(line, `msg="guest log"`) {
			t.Errorf("the guest's text reached the log as a line of its own: %q", line)
		}
	}
	if strings.ContainsAny(out, "\x1b\x00\u202e") {
		t.Errorf("control characters reached the log: %q", out)
	}
}

// The bound counts an attempt's log text across a cold resume: the replayed
// calls are counted, not written again, so a guest cannot reset it by
// awaiting.
func TestGuestLogIsBoundedPerAttemptAcrossResumes(t *testing.T) {
	const limit = 10_000 // the log budget this test configures
	rec := &records{}
	h := newHost(t, noParking, func(c *host.Config) { c.Logger = slog.New(rec); c.MaxLogBytes = limit })
	text := strings.Repeat("l", 1000)
	h.deployRaw("g", guestLogs(1, text, 6, int64(200*time.Millisecond)))
	if p := h.run("g", nil, host.InvokeOptions{}); p.State != store.Resolved {
		t.Fatalf("execution %s %s", p.State, p.Value.Data)
	}
	written, lines := 0, rec.guest("guest log")
	for _, s := range lines {
		written += len(s)
	}
	notes := rec.guest("guest log truncated: the execution attempt passed its log limit; the rest of its log text is dropped")
	if written != limit || len(lines) != limit/1000 || len(notes) != 1 {
		t.Fatalf("12,000 bytes logged in two passes: %d written in %d records and %d truncation notes, want %d in %d and one", written, len(lines), len(notes), limit, limit/1000)
	}
}

// onGuestLog is a slog handler that calls f for every "guest log" record.
type onGuestLog struct{ f func(text string) }

func (h onGuestLog) Enabled(context.Context, slog.Level) bool { return true }
func (h onGuestLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "guest log" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "text" {
				h.f(a.Value.String())
			}
			return true
		})
	}
	return nil
}
func (h onGuestLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onGuestLog) WithGroup(string) slog.Handler      { return h }

// A guest's log line is written once the steps it took before it are
// durable: a line saying "resolve x.1" is never read before x.1 exists.
func TestGuestLogFollowsTheStepsBeforeIt(t *testing.T) {
	var th *testHost
	var mu sync.Mutex // guards seen
	seen := map[string]bool{}
	logger := slog.New(onGuestLog{func(text string) {
		_, err := th.store.GetPromise(context.Background(), "lg.1")
		mu.Lock()
		seen[text] = err == nil
		mu.Unlock()
	}})
	th = newHost(t, func(c *host.Config) { c.Logger = logger })
	m := wt.Module{Memory: 1, Data: []wt.Data{{Offset: 0, Bytes: []byte("resolve lg.1")}}}
	promise := m.Import(abi.Module, abi.ImportPromise, []byte{wt.I64}, []byte{wt.I32})
	logf := m.Import(abi.Module, abi.ImportLog, []byte{wt.I32, wt.I32, wt.I32}, nil)
	await := m.Import(abi.Module, abi.ImportAwait, []byte{wt.I32}, []byte{wt.I32})
	m.Func(abi.DefaultEntry, []byte{wt.I32},
		wt.I64Const(0), wt.Call(promise), []byte{0x21, 0}, // local.set 0
		wt.I32Const(abi.LogInfo), wt.I32Const(0), wt.I32Const(12), wt.Call(logf),
		[]byte{0x20, 0}, wt.Call(await), wt.Drop)
	th.deployRaw("lg", m.Bytes())
	if _, err := th.Invoke(context.Background(), "lg", nil, host.InvokeOptions{ID: "lg"}); err != nil {
		t.Fatal(err)
	}
	if _, err := th.Settle(context.Background(), store.Settle{ID: "lg.1", State: store.Resolved}); err != nil {
		// Settling needs the promise: it exists once the guest awaits.
		deadline := time.Now().Add(10 * time.Second)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			_, err = th.Settle(context.Background(), store.Settle{ID: "lg.1", State: store.Resolved})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := th.await("lg"); p.State != store.Resolved {
		t.Fatalf("lg: %s", p.State)
	}
	mu.Lock()
	defer mu.Unlock()
	if durable, ok := seen["resolve lg.1"]; !ok || !durable {
		t.Fatalf("the guest's line was written %v, the promise it names existing then: %v; want written, after it exists", ok, durable)
	}
}
