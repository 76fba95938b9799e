package host_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// countingEngine wraps the test engine to count the modules and instances
// it holds open, and fails the test when a module is closed while an
// instance of it lives or is instantiated after it was closed.
type countingEngine struct {
	engine.Engine
	t        testing.TB
	mu       sync.Mutex
	compiles int
	closes   int
	open     map[*countingModule]bool
}

type countingModule struct {
	engine.Module
	e         *countingEngine
	instances int
	closed    bool
}

type countingInstance struct {
	engine.Instance
	m    *countingModule
	once sync.Once
}

// withCountingEngine configures a host on a countingEngine, returned.
func withCountingEngine(t testing.TB, c *host.Config) *countingEngine {
	ce := &countingEngine{t: t, open: map[*countingModule]bool{}}
	inner := testEngine()
	c.NewEngine = func(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
		e, err := inner(ctx, cfg)
		ce.Engine = e
		return ce, err
	}
	return ce
}

func (e *countingEngine) Compile(ctx context.Context, wasm []byte) (engine.Module, error) {
	m, err := e.Engine.Compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	cm := &countingModule{Module: m, e: e}
	e.mu.Lock()
	e.compiles++
	e.open[cm] = true
	e.mu.Unlock()
	return cm, nil
}

// counts returns the compilations so far, and the modules and instances
// open now.
func (e *countingEngine) counts() (compiles, modules, instances int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for m := range e.open {
		instances += m.instances
	}
	return e.compiles, len(e.open), instances
}

func (m *countingModule) Instantiate(ctx context.Context, sys engine.Sys) (engine.Instance, error) {
	m.e.mu.Lock()
	if m.closed {
		m.e.t.Errorf("a module was instantiated after it was closed")
	}
	m.e.mu.Unlock()
	in, err := m.Module.Instantiate(ctx, sys)
	if err != nil {
		return nil, err
	}
	m.e.mu.Lock()
	m.instances++
	m.e.mu.Unlock()
	return &countingInstance{Instance: in, m: m}, nil
}

func (m *countingModule) Close(ctx context.Context) error {
	m.e.mu.Lock()
	switch {
	case m.closed:
		m.e.t.Errorf("a module was closed twice")
	case m.instances > 0:
		m.e.t.Errorf("a module was closed with %d live instances", m.instances)
	}
	m.closed = true
	m.e.closes++
	delete(m.e.open, m)
	m.e.mu.Unlock()
	return m.Module.Close(ctx)
}

func (i *countingInstance) Close(ctx context.Context) error {
	i.once.Do(func() {
		i.m.e.mu.Lock()
		i.m.instances--
		i.m.e.mu.Unlock()
	})
	return i.Instance.Close(ctx)
}

// eventually waits up to 10s for ok.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// constGuest resolves with the i32 v: modules of distinct code.
func constGuest(v int32) []byte { return i32Guest(wt.Module{Memory: 1}, wt.I32Const(v)) }

// A host that deploys and runs more distinct modules than MaxModules keeps
// at most MaxModules compiled, with their pools; an evicted module used
// again is compiled again and runs.
func TestModulesPastTheBoundAreEvicted(t *testing.T) {
	const bound, pool, n = 3, 2, 12
	var ce *countingEngine
	h := newHost(t, func(c *host.Config) {
		ce = withCountingEngine(t, c)
		c.MaxModules = bound
		c.ReadyInstances = pool
	})
	for i := range n {
		name := fmt.Sprintf("const%d", i)
		if got := runI32(t, h, name, constGuest(int32(i))); got != int32(i) {
			t.Fatalf("%s resolved with %d", name, got)
		}
		eventually(t, fmt.Sprintf("at most %d modules compiled after %d", bound, i+1), func() bool {
			_, modules, _ := ce.counts()
			return modules <= bound
		})
	}
	eventually(t, "the evicted modules' pools drained", func() bool {
		_, _, instances := ce.counts()
		return instances <= bound*pool
	})
	compiles, _, _ := ce.counts()
	if compiles != n {
		t.Fatalf("%d compilations of %d modules", compiles, n)
	}
	// The first module is long evicted: it compiles again and runs.
	p := h.run("const0", []byte{}, host.InvokeOptions{})
	if p.State != store.Resolved || string(p.Value.Data) != "\x00\x00\x00\x00" {
		t.Fatalf("const0 again: %s %q", p.State, p.Value.Data)
	}
	if again, modules, _ := ce.counts(); again != n+1 || modules > bound {
		t.Fatalf("after using an evicted module: %d compilations, %d modules compiled; want %d, at most %d", again, modules, n+1, bound)
	}
	// The most recently used stay: running them compiles nothing.
	for _, i := range []int{n - 1, n - 2, 0} {
		runI32(t, h, fmt.Sprintf("const%d", i), constGuest(int32(i)))
	}
	if again, _, _ := ce.counts(); again != n+1 {
		t.Fatalf("running the %d most recently used compiled %d more", bound, again-n-1)
	}
}

// Many goroutines deploying and running more modules than the bound, at
// once: every run gets its answer, no module is closed under an instance
// (the counting engine checks), and the bound holds once they are done.
func TestModulesEvictedUnderConcurrentUse(t *testing.T) {
	const bound, n, workers = 2, 8, 8
	var ce *countingEngine
	h := newHost(t, func(c *host.Config) {
		ce = withCountingEngine(t, c)
		c.MaxModules = bound
	})
	for i := range n {
		h.deployRaw(fmt.Sprintf("const%d", i), constGuest(int32(i)))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 12 {
				i := (w + k*3) % n
				p, err := h.InvokeWait(context.Background(), fmt.Sprintf("const%d", i), []byte{}, host.InvokeOptions{}, 30*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if p.State != store.Resolved || len(p.Value.Data) != 4 || p.Value.Data[0] != byte(i) {
					t.Errorf("const%d: %s %q", i, p.State, p.Value.Data)
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, fmt.Sprintf("at most %d modules compiled", bound), func() bool {
		_, modules, _ := ce.counts()
		return modules <= bound
	})
}

// An execution parked (hot) on a module that is evicted meanwhile keeps the
// module's code until it ends: it resumes on its own instance, and the
// module is closed after.
func TestModuleEvictedWhileParkedResumesHot(t *testing.T) {
	var ce *countingEngine
	h := newHost(t, func(c *host.Config) {
		ce = withCountingEngine(t, c)
		c.MaxModules = 1
	})
	h.deploy("approve", "approve")
	ctx := context.Background()
	id, err := h.Invoke(ctx, "approve", []byte(`{}`), host.InvokeOptions{ID: "pk"})
	if err != nil {
		t.Fatal(err)
	}
	waitPromise(t, h, "pk.1")
	eventually(t, "the execution parked", func() bool { return h.Parked() == 1 })

	// Another module evicts approve's.
	if got := runI32(t, h, "other", constGuest(7)); got != 7 {
		t.Fatal(got)
	}
	if _, modules, _ := ce.counts(); modules != 2 {
		t.Fatalf("%d modules open, want 2: the parked execution's, evicted, and the other", modules)
	}
	if h.Parked() != 1 {
		t.Fatalf("%d parked, want the execution still parked (hot)", h.Parked())
	}
	if _, err := h.Settle(ctx, store.Settle{ID: "pk.1", State: store.Resolved, Value: store.Value{Data: []byte(`"yes"`)}}); err != nil {
		t.Fatal(err)
	}
	var out struct{ State, Value string }
	resolved(t, h.await(id), &out)
	if out.Value != `"yes"` {
		t.Fatalf("guest saw %+v", out)
	}
	eventually(t, "the evicted module closed after its execution ended", func() bool {
		_, modules, _ := ce.counts()
		return modules == 1
	})
	// And it compiles again for the next execution.
	p := h.run("approve", map[string]int{"timeout_ms": 1}, host.InvokeOptions{})
	if p.State != store.Resolved {
		t.Fatalf("approve after its module was evicted: %s %s", p.State, p.Value.Data)
	}
}
