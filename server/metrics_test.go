package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/abi"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

func TestMetricsCountExecutionsByStateAndTimeStepsAndSyncs(t *testing.T) {
	ts := newTenantServer(t,
		testTenant{name: "acme", token: "rpr_acme-0123456789abcdef"},
		testTenant{name: "globex", token: "rpr_globex-0123456789abcdef"})
	acme := bearerHeader("rpr_acme-0123456789abcdef")
	// The guest reads the clock once: a journaled step.
	var clock wt.Module
	now := clock.Import(abi.Module, "now", nil, []byte{wt.I64})
	clock.Memory = 1
	clock.Funcs = []wt.Func{{Export: abi.DefaultEntry, Code: wt.Cat(wt.Call(now), wt.Drop)}}
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", acme, string(clock.Bytes())}); a.status != 201 {
		t.Fatalf("deploy: %d %s", a.status, a.body)
	}
	for i := range 3 {
		if a := do(t, ts.URL, call{"POST", fmt.Sprintf("/v1/functions/echo/invoke?wait=10s&id=e%d", i), acme, "1"}); a.status != 200 {
			t.Fatalf("invoke: %d %s", a.status, a.body)
		}
	}
	a := do(t, ts.URL, call{"GET", "/metrics", nil, ""})
	if a.status != 200 {
		t.Fatalf("metrics: %d", a.status)
	}
	m := string(a.body)
	for _, want := range []string{
		`reprise_executions{tenant="acme",state="RESOLVED"} 3`,
		`reprise_executions{tenant="acme",state="PENDING"} 0`,
		`reprise_executions{tenant="globex",state="RESOLVED"} 0`,
		`reprise_executions_finished_total{tenant="acme",state="RESOLVED"} 3`,
		`reprise_step_duration_seconds_count{tenant="acme"} 3`,
		`reprise_instances_parked{tenant="acme"} 0`,
		`reprise_guests_running{tenant="globex"} 0`,
		`reprise_http_requests_total{route="POST /v1/functions/{name}/invoke",code="200"} 3`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(m, `reprise_executions_purged_total{tenant="acme"} 0`+"\n") {
		t.Errorf("metrics lack the purged executions")
	}
	for _, prefix := range []string{`reprise_journal_bytes{tenant="acme"} `, `reprise_store_sync_duration_seconds_count{tenant="acme"} `} {
		i := strings.Index(m, prefix)
		if i < 0 || strings.HasPrefix(m[i+len(prefix):], "0\n") {
			t.Errorf("metric %s missing or zero", prefix)
		}
	}
	if t.Failed() {
		t.Log(m)
	}
}
