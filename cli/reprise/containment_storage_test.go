package main

// Containment of storage: a tenant that fills its quota or the disk gets 507
// naming the limit, the server lives (a full disk used to kill it with
// SIGBUS in Badger's mmapped files, at run time and again at restart), reads
// go on, and writes resume when space returns, with nothing acknowledged
// lost. The disk-full test runs on a real 20 MiB tmpfs.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/client"
	"github.com/reprise-wasm/reprise/wire"
)

// bigPromise is the param of the attacker's promises: 700 KB, under the
// default payload_size of 1 MiB.
func bigPromise(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 700_000) }

// mountTmpfs mounts a tmpfs of size at dir, or skips the test where
// mounting is not permitted; it is unmounted when the test ends (after the
// server it holds is killed).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("this test needs a small real file system, and mounting a tmpfs is not permitted here (%v: %s); CI runs it as root", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fillUntil507 creates 700 KB promises as s's tenant until three in a row
// are refused, each with a 507 naming limit (the store counts what it lets
// through generously between two measures of its space, so a refusal may
// be followed by one more write once it measures again). It returns the
// acknowledged ids.
func (s server) fillUntil507(t *testing.T, limit string, atMost int) []string {
	t.Helper()
	c := s.client(t)
	var acked []string
	refused := 0
	for i := range atMost {
		id := fmt.Sprintf("big%d", i)
		_, _, err := c.CreatePromise(context.Background(), client.CreatePromise{ID: id, Timeout: time.Now().Add(time.Hour).UnixMilli(), Param: client.Value{Data: bigPromise(i)}})
		if err == nil {
			acked, refused = append(acked, id), 0
			continue
		}
		s.require507(t, err, limit)
		if refused++; refused == 3 {
			t.Logf("refused after %d promises of 700 KB: %v", len(acked), err)
			return acked
		}
	}
	t.Fatalf("%d promises of 700 KB: the %s limit did not hold (%d accepted)", atMost, limit, len(acked))
	return nil
}

// require507 fails unless err is the API's 507 naming limit.
func (s server) require507(t *testing.T, err error, limit string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusInsufficientStorage || !strings.Contains(ce.Message, "limit "+limit) {
		t.Fatalf("want a 507 naming the limit %s, got %v", limit, err)
	}
}

// requireLimitInBody posts one more promise and checks that the error body
// names limit in its "limit" field, for clients that branch on it.
func (s server) requireLimitInBody(t *testing.T, limit string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": "probe", "timeout": time.Now().Add(time.Hour).UnixMilli(), "param": map[string]any{"data": bigPromise(0)}})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/promises", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb wire.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || resp.StatusCode != http.StatusInsufficientStorage || eb.Error == nil || eb.Error.Limit != limit {
		t.Fatalf("want 507 with limit %q in the body, got %d %+v (%v)", limit, resp.StatusCode, eb.Error, err)
	}
}

// requireIntact fails unless every acknowledged promise reads back whole.
func (s server) requireIntact(t *testing.T, acked []string) {
	t.Helper()
	c := s.client(t)
	for _, id := range acked {
		var i int
		fmt.Sscanf(id, "big%d", &i)
		p, err := c.Promise(context.Background(), id)
		if err != nil {
			t.Fatalf("read acknowledged promise %s: %v", id, err)
		}
		if !bytes.Equal(p.Param.Data, bigPromise(i)) {
			t.Fatalf("acknowledged promise %s: its param of %d bytes is not what was written", id, len(p.Param.Data))
		}
	}
}

// requireAlive fails if the server process has ended.
func (s server) requireAlive(t *testing.T) {
	t.Helper()
	if err := s.proc.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the server died: %v", err)
	}
	resp, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatalf("the server does not answer: %v", err)
	}
	resp.Body.Close()
}

// kill9 kills the server with SIGKILL and waits for it to end.
func (s server) kill9(t *testing.T) {
	t.Helper()
	s.proc.Process.Signal(syscall.SIGKILL)
	s.proc.Wait()
}

// One tenant fills the disk it is on (its directory on a 20 MiB tmpfs, 6
// MiB of which a ballast file holds; the server keeps --disk-reserve 4MiB
// free): its writes get 507 naming disk_reserve, the quiet tenant (on
// another disk) is served throughout, and the server never dies. Killed
// with SIGKILL and restarted with the disk still full, it serves the
// attacker's reads and refuses its writes; once the ballast is removed,
// writes resume, and every acknowledged promise is intact.
func TestContainmentDiskFullOfOneTenant(t *testing.T) {
	t.Parallel()
	var ballast string
	a := preparedArena(t, func(data string) {
		dir := filepath.Join(data, "tenants", "attacker")
		mountTmpfs(t, dir, "20m")
		ballast = filepath.Join(dir, "ballast")
		if err := os.WriteFile(ballast, bytes.Repeat([]byte{1}, 6<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}, nil, "--disk-reserve", "4MiB")

	load := a.quiet.keepInvoking(t)
	acked := a.fillUntil507(t, "disk_reserve", 40)
	if len(acked) < 3 {
		t.Fatalf("only %d promises accepted before the disk was full", len(acked))
	}
	a.requireLimitInBody(t, "disk_reserve")
	a.requireIntact(t, acked) // reads work on the full disk
	load.requireServed(t)
	a.requireAlive(t)
	a.requirePeakUnder(t, 512<<20, "disk full")

	// kill -9 and restart with the disk still full: reads are served,
	// writes refused, the quiet tenant served.
	a.kill9(t)
	s2 := startServe(t, a.data, a.token, "--disk-reserve", "4MiB")
	s2.guardMemory(t, hardMemoryCap)
	q2 := s2
	q2.token = a.quiet.token
	a.server, a.quiet = s2, q2
	a.requireIntact(t, acked)
	_, _, err := a.client(t).CreatePromise(context.Background(), client.CreatePromise{ID: "after-restart", Timeout: time.Now().Add(time.Hour).UnixMilli(), Param: client.Value{Data: bigPromise(2)}})
	a.require507(t, err, "disk_reserve")
	load = a.quiet.keepInvoking(t)
	a.quiet.ok(t, "invoke", "hello", "--input", `{"name":"after"}`, "--wait")
	load.requireServed(t)
	a.requireAlive(t)

	// Space returns: writes resume, without a restart.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	c := a.client(t)
	eventually(t, "the attacker's writes resume once space is freed", func() bool {
		_, _, err := c.CreatePromise(context.Background(), client.CreatePromise{ID: "resumed", Timeout: time.Now().Add(time.Hour).UnixMilli(), Param: client.Value{Data: bigPromise(3)}})
		if err != nil {
			a.require507(t, err, "disk_reserve")
		}
		return err == nil
	})
	a.requireIntact(t, acked)
	a.requireAlive(t)
}

// A tenant at its storage quota (--storage 4MiB) gets 507 naming storage;
// the quiet tenant on the same disk is served, reads work, and once its
// quota is raised the tenant writes again, without a restart; after a kill
// -9 and restart every acknowledged promise is intact.
func TestContainmentStorageQuota(t *testing.T) {
	t.Parallel()
	a := preparedArena(t, nil, []string{"--storage", "4MiB"})
	load := a.quiet.keepInvoking(t)
	acked := a.fillUntil507(t, "storage", 40)
	if len(acked) < 2 || len(acked) > 6 {
		t.Fatalf("%d promises of 700 KB accepted under a 4 MiB quota", len(acked))
	}
	a.requireLimitInBody(t, "storage")
	a.requireIntact(t, acked)
	// The quiet tenant still writes: the quota is the attacker's alone.
	a.quiet.ok(t, "invoke", "hello", "--input", `{"name":"during"}`, "--wait")
	load.requireServed(t)
	a.requireAlive(t)
	// The CLI says so, with its exit code for a full store.
	a.fails(t, 5, []string{"deploy", "square", wasm["square"]}, "storage is full", "limit storage")

	ok(t, a.data, "tenant", "set", "attacker", "--storage", "64MiB")
	c := a.client(t)
	eventually(t, "the attacker writes again under its raised quota", func() bool {
		_, _, err := c.CreatePromise(context.Background(), client.CreatePromise{ID: "after", Timeout: time.Now().Add(time.Hour).UnixMilli(), Param: client.Value{Data: bigPromise(1)}})
		if err != nil {
			a.require507(t, err, "storage")
		}
		return err == nil
	})
	a.kill9(t)
	a.server = startServe(t, a.data, a.token)
	a.requireIntact(t, acked)
	if p, err := a.client(t).Promise(context.Background(), "after"); err != nil || !bytes.Equal(p.Param.Data, bigPromise(1)) {
		t.Fatalf("the promise written under the raised quota: %v", err)
	}
}

// A store whose next value-log file is empty, as a kill between Badger's
// create and truncate leaves it, opens at the first try: for the local CLI
// and under serve.
func TestZeroLengthNextValueLogOpens(t *testing.T) {
	t.Parallel()
	emptyNextVlog := func(t *testing.T, store string) {
		t.Helper()
		vlogs, _ := filepath.Glob(filepath.Join(store, "*.vlog"))
		last := 0
		for _, f := range vlogs {
			var n int
			fmt.Sscanf(filepath.Base(f), "%d", &n)
			last = max(last, n)
		}
		if len(vlogs) == 0 {
			t.Fatalf("no value log in %s", store)
		}
		if err := os.WriteFile(filepath.Join(store, fmt.Sprintf("%06d.vlog", last+1)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("local", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		ok(t, data, "deploy", "hello", wasm["hello"])
		emptyNextVlog(t, filepath.Join(data, "store"))
		r := reprise(t, data, "invoke", "hello", "--input", `{"name":"Ada"}`, "--wait")
		if r.code != 0 || !strings.Contains(r.stdout, "Ada") || !strings.Contains(r.stderr, "removed an empty log file") {
			t.Fatalf("the CLI on a store with an empty next value log: %s", r)
		}
	})
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		data := t.TempDir()
		token := strings.TrimSpace(ok(t, data, "tenant", "create", "acme"))
		s := startServe(t, data, token)
		s.ok(t, "deploy", "hello", wasm["hello"])
		s.kill9(t)
		emptyNextVlog(t, filepath.Join(data, "tenants", "acme", "store"))
		s = startServe(t, data, token)
		if out := s.ok(t, "invoke", "hello", "--input", `{"name":"Ada"}`, "--wait"); !strings.Contains(out, "Ada") {
			t.Fatalf("invoke after the restart printed %q", out)
		}
	})
}

// The local CLI on a disk under its reserve (--disk-reserve larger than any
// disk): reads work, and a write exits 5 naming the limit and saying that
// writes resume once space is freed.
func TestLocalCLIAtTheDiskReserve(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "hello", wasm["hello"])
	full := []string{"--disk-reserve", "1000000GiB"}
	if out := ok(t, data, append(full, "functions")...); !strings.Contains(out, "hello") {
		t.Fatalf("functions on the full disk printed %q", out)
	}
	fails(t, 5, data, append(full, "invoke", "hello", "--input", `{"name":"Ada"}`, "--wait"),
		"limit disk_reserve", "writes resume once space is freed")
	if out := ok(t, data, "invoke", "hello", "--input", `{"name":"Ada"}`, "--wait"); !strings.Contains(out, "Ada") {
		t.Fatalf("invoke with the default reserve printed %q", out)
	}
}

// A tenant whose store does not exist yet cannot have one made on a disk
// under its reserve: its requests get the same 507 naming disk_reserve as
// any write there, not a 503 that says nothing of why.
func TestNewTenantOnAFullDiskGets507(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	token := strings.TrimSpace(ok(t, data, "tenant", "create", "late"))
	// No disk has a million GiB free: every disk is under this reserve.
	s := startServe(t, data, token, "--disk-reserve", "1000000GiB")
	_, err := s.client(t).Functions(context.Background())
	s.require507(t, err, "disk_reserve")
}
