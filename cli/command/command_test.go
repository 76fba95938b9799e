package command

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

func TestReorderArgsMovesFlagsAfterArgumentsAheadOfThem(t *testing.T) {
	a := &app{}
	app := a.newCLI()
	for _, tc := range []struct{ in, want string }{
		{"reprise run hello.wasm --input {}", "reprise run --input {} hello.wasm"},
		{"reprise resolve X.1 --value -1", "reprise resolve --value -1 X.1"},
		{"reprise invoke hello --wait --id x", "reprise invoke --wait --id x hello"},
		{"reprise get ID --data /d", "reprise --data /d get ID"},
		{"reprise --data /d ls --state=pending", "reprise --data /d ls --state=pending"},
		{"reprise build dir -o out.wasm", "reprise build -o out.wasm dir"},
		{"reprise get -- -odd", "reprise get -- -odd"},
		{"reprise get --help", "reprise get --help"},
		{"reprise nosuch --x", "reprise nosuch --x"},
		{"reprise", "reprise"},
	} {
		got := strings.Join(reorderArgs(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExitCodeMapsHostAndStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailed},
		{fmt.Errorf("x: %w", badgerstore.ErrLocked), ExitLocked},
		{fmt.Errorf("x: %w", host.ErrUnknownFunction), ExitNotFound},
		{fmt.Errorf("x: %w", store.ErrNotFound), ExitNotFound},
		{fmt.Errorf("x: %w", host.ErrInvalidModule), ExitUsage},
		{fmt.Errorf("x: %w", host.ErrBadName), ExitUsage},
		{fmt.Errorf("x: %w", store.ErrConflict), ExitUsage},
		{usageErrorf("bad"), ExitUsage},
		{interrupted("stop"), ExitInterrupted},
		{fmt.Errorf("wrapped: %w", withCode(ExitNotFound, errors.New("x"))), ExitNotFound},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParseStateFilterRejectedMeansAllRejectedStates(t *testing.T) {
	got, err := parseStateFilter("rejected")
	if err != nil || !slices.Equal(got, []store.State{store.Rejected, store.RejectedCanceled, store.RejectedTimedout}) {
		t.Fatalf("rejected = %v, %v", got, err)
	}
	for in, want := range map[string]store.State{"PENDING": store.Pending, "canceled": store.RejectedCanceled, "timedout": store.RejectedTimedout, "REJECTED_TIMEDOUT": store.RejectedTimedout} {
		if got, err := parseStateFilter(in); err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, %v", in, got, err)
		}
	}
	if _, err := parseStateFilter("done"); exitCode(err) != ExitUsage {
		t.Errorf("done: %v", err)
	}
}

func TestCompareIDsOrdersStepsNumerically(t *testing.T) {
	ids := []string{"a.10", "a", "a.9", "a.10.2", "b"}
	slices.SortFunc(ids, compareIDs)
	if want := []string{"a", "a.9", "a.10", "a.10.2", "b"}; !slices.Equal(ids, want) {
		t.Fatalf("sorted %v, want %v", ids, want)
	}
}

func TestValueJSONEmbedsJSONAndBase64EncodesOtherBytes(t *testing.T) {
	if v, enc := valueJSON([]byte(`{"a":1}`)); string(v) != `{"a":1}` || enc != "" {
		t.Errorf("json: %s %q", v, enc)
	}
	if v, enc := valueJSON([]byte("plain text")); string(v) != `"cGxhaW4gdGV4dA=="` || enc != "base64" {
		t.Errorf("text: %s %q", v, enc)
	}
	if v, enc := valueJSON(nil); v != nil || enc != "" {
		t.Errorf("empty: %s %q", v, enc)
	}
}

func TestLocalOutcomeDescribesNowRandomAndAwaitAny(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var now [8]byte
	binary.BigEndian.PutUint64(now[:], uint64(ts.UnixNano()))
	if got := localOutcome(store.Entry{Op: store.OpNow, Outcome: now[:]}); got != "2026-01-02T03:04:05Z" {
		t.Errorf("now: %q", got)
	}
	if got := localOutcome(store.Entry{Op: store.OpRandom, Outcome: bytes.Repeat([]byte{0xab}, 16)}); got != "abababababababab… (16 bytes)" {
		t.Errorf("random: %q", got)
	}
	if got := localOutcome(store.Entry{Op: store.OpAwaitAny, Outcome: []byte{0, 0, 0, 2}}); got != "index 2" {
		t.Errorf("await_any: %q", got)
	}
}

func TestStatusLineSaysWhatTheExecutionWaitsFor(t *testing.T) {
	s := status{steps: 12, children: 5, pending: 3, waiting: "x.4 (sleep until 12:03:04)"}
	if got, want := s.String(), "steps 12 · children 3 pending · waiting for x.4 (sleep until 12:03:04)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (status{steps: 1}).String(); got != "steps 1 · running" {
		t.Errorf("got %q", got)
	}
	p := store.Promise{ID: "x.1", Tags: map[string]string{host.TagKind: "promise"}}
	if got := describeWait(p); !strings.Contains(got, "reprise resolve x.1") {
		t.Errorf("promise: %q", got)
	}
}

func TestLogLinesEraseAndRedrawTheStatusLine(t *testing.T) {
	var buf bytes.Buffer
	c := &console{w: &buf, tty: true}
	c.setStatus("steps 1")
	log := slog.New(&lineHandler{c: c, level: slog.LevelInfo, layout: "15:04:05"})
	log.Info("hello world", "k", "v w")
	c.setStatus("")
	want := clearLine + "steps 1" + clearLine
	if got := buf.String(); !strings.HasPrefix(got, want) || !strings.Contains(got, `INFO  hello world k="v w"`+"\n"+"steps 1") || !strings.HasSuffix(got, clearLine) {
		t.Errorf("console output %q", got)
	}
}

func TestConsoleIsSafeForConcurrentLogsAndStatus(t *testing.T) {
	var buf bytes.Buffer
	c := &console{w: &buf, tty: true}
	log := slog.New(&lineHandler{c: c, level: slog.LevelInfo})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				if i%2 == 0 {
					c.setStatus(fmt.Sprint("status ", j))
				} else {
					log.Info("line", "j", j)
				}
			}
		})
	}
	wg.Wait()
}

func TestAllowHTTPMatchesNamesSubdomainsAndStar(t *testing.T) {
	a := &app{allowHTTP: []string{"api.example.com", "*.internal"}}
	allow := a.httpConfig().Allow
	for h, want := range map[string]bool{"api.example.com": true, "API.example.com": true, "example.com": false, "db.internal": true, "internal": false} {
		if got := allow(h); got != want {
			t.Errorf("allow(%q) = %v", h, got)
		}
	}
	if (&app{}).httpConfig() != nil {
		t.Error("no --allow-http must grant nothing")
	}
	if c := (&app{allowHTTP: []string{"*"}}).httpConfig(); c == nil || c.Allow != nil {
		t.Error("* must allow every host")
	}
}

// Locally, naming an address or localhost in --allow-http allows it by
// address too; a name that is not one allows no internal range.
func TestAllowHTTPNamedAddressesAllowTheirRange(t *testing.T) {
	for _, c := range []struct {
		allow []string
		want  []string
	}{
		{[]string{"api.example.com", "*"}, nil},
		{[]string{"localhost"}, []string{"127.0.0.0/8", "::1/128"}},
		{[]string{"127.0.0.1", "[::1]"}, []string{"127.0.0.1/32", "::1/128"}},
		{[]string{"10.1.2.3"}, []string{"10.1.2.3/32"}},
	} {
		var got []string
		for _, p := range (&app{allowHTTP: c.allow}).httpConfig().AllowRanges {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("--allow-http %v: ranges %v, want %v", c.allow, got, c.want)
		}
	}
}

// run runs the command line in-process.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), append([]string{"reprise"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestHelpOfEveryCommandHasUsageDescriptionAndExample(t *testing.T) {
	out, _, code := run(t, "--help")
	if code != 0 || !strings.Contains(out, "EXIT CODES:") || !strings.Contains(out, "130") {
		t.Fatalf("reprise --help: code %d\n%s", code, out)
	}
	for _, cmd := range (&app{}).newCLI().Commands {
		out, _, code := run(t, cmd.Name, "--help")
		for _, want := range []string{"USAGE:", "reprise " + cmd.Name, "DESCRIPTION:", "Example:"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("reprise %s --help (code %d) lacks %q:\n%s", cmd.Name, code, want, out)
			}
		}
	}
}

func TestInvalidJSONInputIsAUsageErrorBeforeTouchingData(t *testing.T) {
	dir := t.TempDir() + "/data"
	_, stderr, code := run(t, "--data", dir, "invoke", "hello", "--input", "{nope")
	if code != ExitUsage || !strings.Contains(stderr, "--input is not valid JSON") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestReadOnlyCommandsOnAnEmptyDataDirectory(t *testing.T) {
	dir := t.TempDir() + "/none"
	if out, _, code := run(t, "--data", dir, "ls"); code != 0 || out != "" {
		t.Errorf("ls: code %d, out %q", code, out)
	}
	if _, stderr, code := run(t, "--data", dir, "get", "x"); code != ExitNotFound || !strings.Contains(stderr, dir) {
		t.Errorf("get: code %d, stderr %q", code, stderr)
	}
}
