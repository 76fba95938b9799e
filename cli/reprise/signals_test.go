//go:build unix

package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWorkerResumesAnExecutionAfterKill9(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "sleep", wasm["sleep"])
	// --log-level debug logs what the waiting command sees, so the test
	// knows when the execution is asleep (the data directory is locked
	// while the command runs: nothing else can look).
	p := start(t, data, "--log-level", "debug", "invoke", "sleep", "--id", "nap", "--input", `{"ms":2000}`, "--wait")
	p.waitFor("waiting for nap.2 (sleep until")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(); r.code != -1 {
		t.Fatalf("kill -9: %s", r)
	}
	if got := get(t, data, "nap"); got.State != "PENDING" {
		t.Fatalf("after kill -9: %+v", got)
	}
	w := reprise(t, data, "worker", "--until-idle")
	if w.code != 0 || !strings.Contains(w.stderr, "idle") {
		t.Fatalf("worker --until-idle: %s", w)
	}
	got := get(t, data, "nap")
	var v struct {
		SleptMS int64 `json:"slept_ms"`
	}
	if err := json.Unmarshal(got.Value, &v); got.State != "RESOLVED" || err != nil || v.SleptMS < 2000 {
		t.Fatalf("after worker: %+v (%v)", got, err)
	}
	h := history(t, data, "nap")
	requireSeqsOnce(t, h)
	ops := []string{}
	for _, s := range h.Steps {
		ops = append(ops, s.Op)
	}
	if strings.Join(ops, " ") != "now sleep now" || h.Steps[1].Child != "nap.2" {
		t.Fatalf("history after resume: %+v", h)
	}
}

func TestWorkerStopsCleanlyOnSIGTERMAndResumesOnNextStart(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "sleep", wasm["sleep"])
	// Long enough that the first worker is stopped before the sleep ends.
	if id := ok(t, data, "invoke", "sleep", "--id", "nap", "--input", `{"ms":4000}`); id != "nap" {
		t.Fatalf("invoke printed %q", id)
	}
	w := start(t, data, "worker")
	w.waitFor("worker running")
	r := w.signal(syscall.SIGTERM)
	if r.code != 0 || !strings.Contains(r.stderr, "resume on the next start") {
		t.Fatalf("worker on SIGTERM: %s", r)
	}
	if got := get(t, data, "nap"); got.State != "PENDING" {
		t.Fatalf("stopped before the sleep ended, yet %+v", got)
	}
	ok(t, data, "worker", "--until-idle")
	if got := get(t, data, "nap"); got.State != "RESOLVED" {
		t.Fatalf("after the second worker: %+v", got)
	}
}

func TestLockedDataDirectoryExitsThreeNamingIt(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	w := start(t, data, "worker")
	w.waitFor("worker running")
	for _, args := range [][]string{{"get", "x"}, {"invoke", "hello"}, {"functions"}} {
		fails(t, 3, data, args, "data directory "+data+" is in use by another reprise process", "reprise worker")
	}
	if r := w.signal(os.Interrupt); r.code != 0 {
		t.Fatalf("worker on SIGINT: %s", r)
	}
	fails(t, 4, data, []string{"get", "x"}) // unlocked now: merely not found
}

func TestCtrlCDuringInvokeWaitLeavesTheExecutionSafe(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "approval", wasm["approval"])
	p := start(t, data, "invoke", "approval", "--id", "ask", "--input", `{"request":"ship it"}`, "--wait")
	p.waitFor("waiting for approval: resolve ask.1")
	r := p.signal(os.Interrupt)
	if r.code != 130 {
		t.Fatalf("Ctrl-C: %s", r)
	}
	for _, want := range []string{"interrupted", "the execution ask is safe", "reprise invoke approval --id ask --wait"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, r)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
	ok(t, data, "resolve", "ask.1", "--value", `{"name":"Grace"}`)
	out := ok(t, data, "invoke", "approval", "--id", "ask", "--wait")
	if out != `{"approved":true,"request":"ship it","by":{"name":"Grace"}}` {
		t.Fatalf("after resolve: %q", out)
	}
}

func TestCtrlCThenInvokeSameIDContinuesWaiting(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "sleep", wasm["sleep"])
	p := start(t, data, "--log-level", "debug", "invoke", "sleep", "--id", "nap", "--input", `{"ms":1500}`, "--wait")
	p.waitFor("waiting for nap.2")
	if r := p.signal(os.Interrupt); r.code != 130 {
		t.Fatalf("Ctrl-C: %s", r)
	}
	start := time.Now()
	out := ok(t, data, "invoke", "sleep", "--id", "nap", "--wait")
	var v struct {
		SleptMS int64 `json:"slept_ms"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.SleptMS < 1500 {
		t.Fatalf("got %q (%v)", out, err)
	}
	if time.Since(start) > time.Minute {
		t.Errorf("the second invoke took %s", time.Since(start))
	}
	requireSeqsOnce(t, history(t, data, "nap"))
}
