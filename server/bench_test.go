package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkInvokeWait measures the HTTP path invoke → result (?wait) of a
// trivial function, a small C guest, with 32 concurrent clients on an
// in-process server over loopback TCP. Each invocation is a durable
// execution: its start and its result are each one store commit (grouped
// with the other clients' by the host).
//
//	go test ./server -run '^$' -bench InvokeWait -benchtime 20000x
func BenchmarkInvokeWait(b *testing.B) {
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchInvokeWait(b, clients) })
	}
}

func benchInvokeWait(b *testing.B, clients int) {
	wasm, err := os.ReadFile("../conformance/c/guest.wasm")
	if err != nil {
		b.Fatal(err)
	}
	ts, _ := newTestServer(b, Config{})
	deploy := do(b, ts.URL, call{"PUT", "/v1/functions/guest", map[string]string{"Content-Type": "application/wasm"}, string(wasm)})
	if deploy.status != 201 {
		b.Fatalf("deploy: %d %s", deploy.status, deploy.body)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	url := ts.URL + "/v1/functions/guest/invoke?wait=10s"
	body := []byte(`{"scenario":"square","n":3}`)
	invoke := func() error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != 200 || resp.Header.Get(HeaderState) != "RESOLVED") {
			b.Errorf("invoke: %d %s %s", resp.StatusCode, resp.Header.Get(HeaderState), out)
		}
		return err
	}
	for range 2 * clients { // warm up: connections, ready instances
		if err := invoke(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				t0 := time.Now()
				if err := invoke(); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "inv/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
