package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
)

func TestZZShowTraps(t *testing.T) {
	h := newHost(t, func(c *host.Config) {
		c.StepTimeout = 500 * time.Millisecond
		c.MemoryLimit = 48 << 20
		c.Retry = host.RetryPolicy{MaxAttempts: 1}
	})
	h.deploy("misbehave", "misbehave")
	for _, in := range []string{`{"mode":"panic"}`, `{"mode":"grow"}`, `{"mode":"loop"}`} {
		id, _ := h.Invoke(context.Background(), "misbehave", []byte(in), host.InvokeOptions{})
		p := h.await(id)
		t.Logf("%s: %s %s", in, p.State, p.Value.Data)
	}
	if _, err := h.Deploy(context.Background(), "bad", rawEcho()[:13], ""); err != nil {
		t.Logf("truncated: %v", err)
	}
}
