package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

var (
	workDir  string // temp folder of this test binary: built guests, compile cache
	cacheDir string
)

func TestMain(m *testing.M) {
	if os.Getenv(crashHostEnv) != "" {
		os.Exit(crashHostMain())
	}
	dir, err := os.MkdirTemp("", "reprise-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	workDir, cacheDir = dir, filepath.Join(dir, "cache")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// language is one guest under test.
type language struct {
	name string
	wasm string // path of its module
}

var (
	langOnce sync.Once
	langs    []language
	langErr  error
)

// languages finds every conformance/<lang>/guest.wasm and builds Go's.
func languages(t testing.TB) []language {
	t.Helper()
	langOnce.Do(func() {
		out := filepath.Join(workDir, "go.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./go")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			langErr = fmt.Errorf("build the Go guest: %v: %s", err, b)
			return
		}
		langs = append(langs, language{"go", out})
		dirs, _ := os.ReadDir(".")
		for _, d := range dirs {
			p := filepath.Join(d.Name(), "guest.wasm")
			if _, err := os.Stat(p); d.IsDir() && err == nil {
				langs = append(langs, language{d.Name(), p})
			}
		}
		sort.Slice(langs, func(i, j int) bool { return langs[i].name < langs[j].name })
	})
	if langErr != nil {
		t.Fatal(langErr)
	}
	return langs
}

// Every language's guest is deployed under the same names, so requests that
// name a function (fanout invoking itself) are the same bytes in every
// language and so are the journals.
const (
	guestName = "guest"      // entry run
	echoName  = "guest-echo" // entry echo
)

// testHost is a host on a fresh store with a language's guest deployed.
type testHost struct {
	*host.Host
	db *badgerstore.DB
}

func newHost(t testing.TB, eng engineChoice, lang language) *testHost {
	t.Helper()
	db, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := host.Config{Store: db, CacheDir: filepath.Join(cacheDir, eng.name), NewEngine: eng.new,
		Retry: host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}}
	allowLoopback(&cfg)
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	th := &testHost{Host: h, db: db}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	wasm, err := os.ReadFile(lang.wasm)
	if err != nil {
		t.Fatal(err)
	}
	for name, entry := range map[string]string{guestName: "run", echoName: "echo"} {
		if _, err := h.Deploy(context.Background(), name, wasm, entry); err != nil {
			t.Fatalf("deploy %s: %v", name, err)
		}
	}
	return th
}

func allowLoopback(c *host.Config) {
	c.HTTP = &host.HTTPConfig{Allow: func(h string) bool {
		ip := net.ParseIP(h)
		return ip != nil && ip.IsLoopback()
	}, AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

// outcome is what a scenario produced, comparable across languages.
type outcome struct {
	State   string
	Value   any      // parsed JSON, or the raw bytes when not JSON
	Journal []string // seq op digest child (await_any: and the winner)
}

func (th *testHost) outcome(t *testing.T, id string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := th.Await(ctx, id)
	if err != nil {
		t.Fatalf("await %s: %v", id, err)
	}
	o := outcome{State: p.State.String(), Value: parse(p.Value.Data)}
	j, err := th.Journal(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range j {
		line := fmt.Sprintf("%d %s %x %s", e.Seq, e.Op, e.Digest, strings.TrimPrefix(e.Child, id))
		if e.Op == store.OpAwaitAny {
			line += fmt.Sprintf(" %x", e.Outcome)
		}
		o.Journal = append(o.Journal, line)
	}
	return o
}

func parse(b []byte) any {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	return v
}

// scenario is one row of CONTRACT.md as the test drives it.
type scenario struct {
	name  string
	entry string // "" for run, "echo" for the echo export
	input func(env *env) []byte
	// during runs while the execution is under way (e.g. settle its promise).
	during func(t *testing.T, th *testHost, id string)
	check  func(t *testing.T, o outcome)
}

// env is what scenarios reach outside the host.
type env struct{ httpURL string }

func jsonIn(v map[string]any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func wantValue(state string, value string) func(*testing.T, outcome) {
	return func(t *testing.T, o outcome) {
		t.Helper()
		if o.State != state || !reflect.DeepEqual(o.Value, parse([]byte(value))) {
			t.Errorf("got %s %v, want %s %s", o.State, o.Value, state, value)
		}
	}
}

var payload = func() []byte {
	b := make([]byte, 300<<10)
	for i := range b {
		b[i] = byte(i*131 + i>>7) // every byte value, not valid UTF-8
	}
	return b
}()

func scenarios() []scenario {
	return []scenario{
		{name: "hello", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "hello", "name": "Ada"}) },
			check: wantValue("RESOLVED", `{"greeting":"Hello, Ada!"}`)},
		{name: "hello default", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "hello"}) },
			check: wantValue("RESOLVED", `{"greeting":"Hello, world!"}`)},
		{name: "echo large binary", entry: "echo", input: func(*env) []byte { return payload },
			check: func(t *testing.T, o outcome) {
				if b, ok := o.Value.([]byte); o.State != "RESOLVED" || !ok || !bytes.Equal(b, payload) {
					t.Errorf("echo of %d bytes came back %s", len(payload), o.State)
				}
			}},
		{name: "echo json", entry: "echo", input: func(*env) []byte { return []byte(`{"k":[1,"é",null]}`) },
			check: wantValue("RESOLVED", `{"k":[1,"é",null]}`)},
		{name: "fanout", input: func(*env) []byte {
			return jsonIn(map[string]any{"scenario": "fanout", "n": 20, "self": guestName})
		}, check: wantValue("RESOLVED", `{"sum":2870}`)},
		{name: "steps", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "steps", "n": 50}) },
			check: wantValue("RESOLVED", `{"steps":50}`)},
		{name: "race", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "race", "a_ms": 500, "b_ms": 20}) },
			check: wantValue("RESOLVED", `{"winner":1}`)},
		{name: "sleep", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "sleep", "ms": 200}) },
			check: func(t *testing.T, o outcome) {
				m, _ := o.Value.(map[string]any)
				if ms, _ := m["slept_ms"].(float64); o.State != "RESOLVED" || ms < 200 || len(m) != 1 {
					t.Errorf("got %s %v, want slept_ms >= 200", o.State, o.Value)
				}
			}},
		{name: "external resolved", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "external", "timeout_ms": 0}) },
			during: func(t *testing.T, th *testHost, id string) {
				waitPromise(t, th, id+".1")
				if _, err := th.Settle(context.Background(), store.Settle{ID: id + ".1", State: store.Resolved, Value: store.Value{Data: []byte(`"ok"`)}}); err != nil {
					t.Fatal(err)
				}
			}, check: wantValue("RESOLVED", `{"state":"resolved","value":"\"ok\""}`)},
		{name: "external timed out", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "external", "timeout_ms": 100}) },
			check: wantValue("RESOLVED", `{"state":"timedout","value":""}`)},
		{name: "http", input: func(e *env) []byte {
			return jsonIn(map[string]any{"scenario": "http", "url": e.httpURL + "/hello"})
		}, check: wantValue("RESOLVED", `{"status":200,"body":"hello"}`)},
		{name: "error returned", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "fail", "message": "nope"}) },
			check: wantValue("REJECTED", `{"error":"nope"}`)},
		{name: "trap with retry", input: func(*env) []byte { return jsonIn(map[string]any{"scenario": "trap"}) },
			check: func(t *testing.T, o outcome) {
				m, _ := o.Value.(map[string]any)
				if msg, _ := m["error"].(string); o.State != "REJECTED" || !strings.Contains(msg, "attempt 2 of 2") {
					t.Errorf("got %s %v, want a rejection after 2 attempts", o.State, o.Value)
				}
			}},
	}
}

func waitPromise(t *testing.T, th *testHost, id string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := th.Get(context.Background(), id); err == nil {
			return
		}
	}
	t.Fatalf("promise %s never appeared", id)
}

// TestConformance runs every scenario × language × engine. Results must
// match the contract; journals must match the Go guest's on the same engine,
// and each language's journals must match across engines.
func TestConformance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer srv.Close()
	e := &env{httpURL: srv.URL}
	journals := map[string][]string{} // scenario + engine / language → journal
	for _, eng := range engines() {
		for _, lang := range languages(t) {
			t.Run(eng.name+"/"+lang.name, func(t *testing.T) {
				th := newHost(t, eng, lang)
				ids := map[string]string{}
				for _, sc := range scenarios() { // all at once, as a host would see them
					fn := guestName
					if sc.entry == "echo" {
						fn = echoName
					}
					id, err := th.Invoke(context.Background(), fn, sc.input(e), host.InvokeOptions{ID: "x-" + strings.ReplaceAll(sc.name, " ", "-")})
					if err != nil {
						t.Fatalf("%s: invoke: %v", sc.name, err)
					}
					ids[sc.name] = id
				}
				for _, sc := range scenarios() {
					t.Run(sc.name, func(t *testing.T) {
						if sc.during != nil {
							sc.during(t, th, ids[sc.name])
						}
						o := th.outcome(t, ids[sc.name])
						sc.check(t, o)
						if sc.name == "trap with retry" || sc.name == "sleep" {
							return // journals hold the failed attempt's or real times' differences
						}
						for _, key := range []string{sc.name + "/" + eng.name, sc.name + "/" + lang.name} {
							if want, ok := journals[key]; !ok {
								journals[key] = o.Journal
							} else if !reflect.DeepEqual(o.Journal, want) {
								t.Errorf("journal differs from the first run of %s:\ngot  %q\nwant %q", key, o.Journal, want)
							}
						}
					})
				}
			})
		}
	}
}

// --- crash and resume: a real host process killed with SIGKILL ---

const crashHostEnv = "REPRISE_CONFORMANCE_CRASH_HOST"

const crashChildren = 30

func crashHostMain() int {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := badgerstore.Open(os.Getenv("REPRISE_TEST_DATA"), badgerstore.Options{Logger: log})
	if err != nil {
		fmt.Println("FAILED open:", err)
		return 1
	}
	eng := engineNamed(os.Getenv("REPRISE_TEST_ENGINE"))
	cfg := host.Config{Store: db, Logger: log, CacheDir: os.Getenv("REPRISE_TEST_CACHE"), NewEngine: eng.new}
	allowLoopback(&cfg)
	ctx := context.Background()
	h, err := host.New(ctx, cfg)
	if err != nil {
		fmt.Println("FAILED host:", err)
		return 1
	}
	wasm, err := os.ReadFile(os.Getenv("REPRISE_TEST_WASM"))
	if err == nil {
		_, err = h.Deploy(ctx, guestName, wasm, "run")
	}
	if err != nil {
		fmt.Println("FAILED deploy:", err)
		return 1
	}
	in := jsonIn(map[string]any{"scenario": "crash", "children": crashChildren, "steps": 200, "sleep_ms": 300,
		"record_url": os.Getenv("REPRISE_TEST_RECORD"), "self": guestName})
	id, err := h.Invoke(ctx, guestName, in, host.InvokeOptions{ID: "crash"})
	if err == nil {
		var p store.Promise
		if p, err = h.Await(ctx, id); err == nil {
			fmt.Printf("RESULT %s %s\n", p.State, p.Value.Data)
		}
	}
	if err != nil {
		fmt.Println("FAILED run:", err)
		return 1
	}
	h.Close(ctx)
	db.Close()
	return 0
}

// recorder counts, per child execution id, the distinct random tokens it was
// sent: a replayed child resends its journaled token, a re-run one a new one.
type recorder struct {
	mu  sync.Mutex // guards got
	got map[string]map[string]bool
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ ID, Token string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ID == "" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.got[body.ID] == nil {
		rc.got[body.ID] = map[string]bool{}
	}
	rc.got[body.ID][body.Token] = true
}

func TestCrashAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills host processes")
	}
	for _, eng := range engines() {
		for _, lang := range languages(t) {
			t.Run(eng.name+"/"+lang.name, func(t *testing.T) {
				rc := &recorder{got: map[string]map[string]bool{}}
				srv := httptest.NewServer(rc)
				defer srv.Close()
				dir := t.TempDir()
				start := func() (*exec.Cmd, <-chan string) {
					wasm, _ := filepath.Abs(lang.wasm)
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), crashHostEnv+"=1", "REPRISE_TEST_DATA="+dir, "REPRISE_TEST_ENGINE="+eng.name,
						"REPRISE_TEST_CACHE="+filepath.Join(cacheDir, eng.name),
						"REPRISE_TEST_WASM="+wasm, "REPRISE_TEST_RECORD="+srv.URL)
					out, _ := cmd.StdoutPipe()
					cmd.Stderr = os.Stderr
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					lines := make(chan string, 256)
					go func() {
						sc := bufio.NewScanner(out)
						for sc.Scan() {
							lines <- sc.Text()
						}
						close(lines)
					}()
					return cmd, lines
				}
				waitLine := func(lines <-chan string, s string) string {
					timeout := time.After(2 * time.Minute)
					for {
						select {
						case l, ok := <-lines:
							if !ok {
								t.Fatalf("host process ended before %q", s)
							}
							if strings.Contains(l, "FAILED") {
								t.Fatal(l)
							}
							if strings.Contains(l, s) {
								return l
							}
						case <-timeout:
							t.Fatalf("no %q in 2 minutes", s)
						}
					}
				}
				// Kill once right after the first wave of children, once in the
				// middle of the durable sleep, then let it finish.
				for _, k := range []struct {
					after string
					delay time.Duration
				}{{"wave 1 done", 0}, {"wave 2 done", 100 * time.Millisecond}} {
					cmd, lines := start()
					waitLine(lines, k.after)
					time.Sleep(k.delay)
					cmd.Process.Signal(syscall.SIGKILL)
					cmd.Wait()
				}
				cmd, lines := start()
				line := waitLine(lines, "RESULT ")
				cmd.Wait()
				want := crashChildren * (crashChildren + 1) * (2*crashChildren + 1) / 6
				if wantLine := fmt.Sprintf(`RESULT RESOLVED {"sum":%d,"children":%d}`, want, crashChildren); !sameJSONLine(line, wantLine) {
					t.Fatalf("got %q, want %q", line, wantLine)
				}
				rc.mu.Lock()
				defer rc.mu.Unlock()
				if len(rc.got) != crashChildren {
					t.Fatalf("%d children recorded, want %d", len(rc.got), crashChildren)
				}
				for id, toks := range rc.got {
					if len(toks) != 1 {
						t.Errorf("child %s ran %d times from scratch", id, len(toks))
					}
				}
			})
		}
	}
}

// sameJSONLine compares "RESULT STATE {json}" lines by their parsed JSON.
func sameJSONLine(got, want string) bool {
	g, w := strings.SplitN(got, " ", 3), strings.SplitN(want, " ", 3)
	return len(g) == 3 && g[0] == w[0] && g[1] == w[1] && reflect.DeepEqual(parse([]byte(g[2])), parse([]byte(w[2])))
}
