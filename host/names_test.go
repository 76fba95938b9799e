package host_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/names"
)

// The host checks function names and execution ids by names.Check, so it
// refuses what the server refuses: "." and ".." among them.
func TestDeployAndInvokeRefuseBadNamesByTheSharedRule(t *testing.T) {
	h := newHost(t)
	h.deployRaw("echo", rawEcho())
	ctx := context.Background()
	for _, bad := range []string{".", "..", "a/b", "a\ufffdb", "a\xffb", ""} {
		if _, err := h.Deploy(ctx, bad, rawEcho(), ""); !errors.Is(err, host.ErrBadName) || !errors.Is(err, names.ErrInvalid) {
			t.Errorf("Deploy(%q) = %v, want ErrBadName", bad, err)
		}
		if bad == "" {
			continue // an empty id means "make one"
		}
		if _, err := h.Invoke(ctx, "echo", nil, host.InvokeOptions{ID: bad}); !errors.Is(err, host.ErrBadName) {
			t.Errorf("Invoke with id %q = %v, want ErrBadName", bad, err)
		}
		if _, err := h.InvokeWait(ctx, "echo", nil, host.InvokeOptions{ID: bad}, time.Second); !errors.Is(err, host.ErrBadName) {
			t.Errorf("InvokeWait with id %q = %v, want ErrBadName", bad, err)
		}
	}
	id, err := h.Invoke(ctx, "echo", nil, host.InvokeOptions{})
	if err != nil || names.Check(id) != nil || len(id) != 24 {
		t.Fatalf("a made id: %q, %v", id, err)
	}
}
