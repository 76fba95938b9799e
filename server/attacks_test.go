package server

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// Hostile guests, sent over the API: each gets a clear answer, and the
// server goes on serving a well-behaved function afterwards.
func TestHostileModulesGetClearErrorsAndTheServerKeepsServing(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	hugeTable := wt.Module{Memory: 1, Tables: []wt.Table{{Min: 50_000_000}}}
	hugeTable.Funcs = []wt.Func{{Export: abi.DefaultEntry}}
	hugeMemory := wt.Module{Memory: 60_000}
	hugeMemory.Funcs = []wt.Func{{Export: abi.DefaultEntry}}
	var foreign wt.Module
	foreign.Import("env", "system", nil, nil)
	foreign.Memory = 1
	foreign.Funcs = []wt.Func{{Export: abi.DefaultEntry}}

	for _, c := range []struct {
		name, wasm string
		want       []string // in the message
	}{
		{"not wasm", "#!/bin/sh\nrm -rf /\n", []string{"not WebAssembly"}},
		{"truncated wasm", string(echoModule()[:20]), []string{"compile"}},
		{"huge table", string(hugeTable.Bytes()), []string{"table", "50000000"}},
		{"huge memory", string(hugeMemory.Bytes()), []string{"memory"}},
		{"import the ABI does not offer", string(foreign.Bytes()), []string{"env", "system"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, ts.URL, call{"PUT", "/v1/functions/hostile", nil, c.wasm})
			checkError(t, a, http.StatusBadRequest)
			for _, w := range c.want {
				if !strings.Contains(string(a.body), w) {
					t.Errorf("message %s does not mention %q", a.body, w)
				}
			}
		})
	}

	// Deep recursion and an endless loop deploy, run, and end rejected.
	recurse := wt.Module{Memory: 1}
	recurse.Funcs = []wt.Func{{Export: abi.DefaultEntry, Code: wt.Call(0)}}
	for name, wasm := range map[string][]byte{"recurse": recurse.Bytes()} {
		if a := do(t, ts.URL, call{"PUT", "/v1/functions/" + name, nil, string(wasm)}); a.status != 201 {
			t.Fatalf("deploy %s: %d %s", name, a.status, a.body)
		}
		a := do(t, ts.URL, call{"POST", "/v1/functions/" + name + "/invoke?wait=30s", nil, ""})
		if a.status != 200 || a.header.Get(HeaderState) != "REJECTED" || !strings.Contains(strings.ToLower(string(a.body)), "stack") {
			t.Fatalf("%s: %d %s %s", name, a.status, a.header.Get(HeaderState), a.body)
		}
	}

	// Still serving.
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", nil, string(echoModule())}); a.status != 201 {
		t.Fatalf("deploy after the attacks: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"POST", "/v1/functions/echo/invoke?wait=10s", nil, `"ok"`}); a.status != 200 || string(a.body) != `"ok"` {
		t.Fatalf("invoke after the attacks: %d %s", a.status, a.body)
	}
}

func TestHTTPServerBoundsSlowClients(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := HTTPServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}), time.Second, log)
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		if d <= 0 {
			t.Errorf("HTTPServer leaves %s unset: a slow client could hold a connection forever", name)
		}
	}
	if srv.WriteTimeout <= time.Second {
		t.Errorf("WriteTimeout %v does not exceed the longest ?wait", srv.WriteTimeout)
	}
	srv.ReadHeaderTimeout, srv.ReadTimeout = 300*time.Millisecond, time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	// 100 clients that never finish their headers, and 20 that trickle a
	// body: they do not stop others, and the server drops them.
	var conns []net.Conn
	for i := range 120 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i < 100 {
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		} else {
			fmt.Fprintf(c, "POST /v1/promises HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
		}
	}
	start := time.Now()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a normal client while 120 are slow: %v", err)
	}
	resp.Body.Close()
	t.Logf("normal request took %v beside 120 slow clients", time.Since(start))

	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			// The server answers 408 or just closes; either way the read ends
			// long before the deadline.
			if _, err := io.Copy(io.Discard, bufio.NewReader(c)); err != nil {
				t.Errorf("slow connection still open after 10s: %v", err)
			}
		}()
	}
	wg.Wait()
}

func TestManyConcurrentConnectionsAreAllServed(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", nil, string(echoModule())}); a.status != 201 {
		t.Fatalf("deploy: %d %s", a.status, a.body)
	}
	const clients = 300
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A connection each: no keep-alive sharing.
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}
			resp, err := c.Post(fmt.Sprintf("%s/v1/functions/echo/invoke?wait=50s&id=c-%d", ts.URL, i), "application/json", strings.NewReader(fmt.Sprint(i)))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != fmt.Sprint(i) {
				errs <- fmt.Errorf("client %d: %d %s", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
