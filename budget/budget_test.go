package budget_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/budget"
)

func TestTryReserveFitsTheBudgetAndItsParent(t *testing.T) {
	server := budget.New("server_memory_budget", 100, budget.Bytes, nil)
	a := budget.New("memory_budget", 80, budget.Bytes, server)
	b := budget.New("memory_budget", 80, budget.Bytes, server)
	if err := a.TryReserve(60, "a's instances"); err != nil {
		t.Fatal(err)
	}
	// b's own limit has room, the server's does not: the tenants' limits
	// add up to more than the server's, and the server's wins.
	err := b.TryReserve(60, "b's instances")
	var ee *budget.ExceededError
	if !errors.As(err, &ee) || !errors.Is(err, budget.ErrExceeded) {
		t.Fatalf("err = %v, want an ExceededError", err)
	}
	if ee.Limit != "server_memory_budget" || ee.Need != 60 || ee.Held != 60 || ee.Budget != 100 || ee.Never {
		t.Errorf("error = %+v, want the server's limit, 60 needed, 60 held of 100", ee)
	}
	for _, w := range []string{"limit server_memory_budget", "b's instances", "60 bytes", "100 bytes"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if got := b.Held(); got != 0 {
		t.Errorf("a refused reservation left %d held in b", got)
	}
	if err := a.TryReserve(30, "more of a"); err == nil || !strings.Contains(err.Error(), "limit memory_budget") {
		t.Errorf("a past its own limit: err = %v, want limit memory_budget", err)
	}
	a.Release(60)
	if err := b.TryReserve(60, "b's instances"); err != nil {
		t.Errorf("after a released: %v", err)
	}
	if s := server.Stats(); s.Held != 60 || s.Peak != 60 {
		t.Errorf("server stats = %+v, want 60 held, peak 60", s)
	}
}

func TestAReservationAboveTheLimitNeverWaits(t *testing.T) {
	server := budget.New("server_memory_budget", 1<<30, budget.Bytes, nil)
	b := budget.New("memory_budget", 1<<20, budget.Bytes, server)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := b.Reserve(ctx, 2<<20, "compiling a module")
	var ee *budget.ExceededError
	if !errors.As(err, &ee) || !ee.Never || ee.Limit != "memory_budget" {
		t.Fatalf("err = %v, want a Never ExceededError of memory_budget", err)
	}
	if !strings.Contains(err.Error(), "2 MiB") || !strings.Contains(err.Error(), "whole budget of 1 MiB") {
		t.Errorf("error %q does not name the need and the budget", err)
	}
	if ctx.Err() != nil {
		t.Error("Reserve waited for a reservation that can never fit")
	}
}

func TestReserveWaitsForARelease(t *testing.T) {
	server := budget.New("server_memory_budget", 100, budget.Bytes, nil)
	a := budget.New("memory_budget", 0, budget.Bytes, server)
	b := budget.New("memory_budget", 0, budget.Bytes, server)
	if err := a.TryReserve(100, "all of it"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Reserve(context.Background(), 50, "b's run") }()
	// Wait until the reservation is waiting, then release in the other
	// tenant: the waiter must see it.
	for b.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-got:
		t.Fatalf("Reserve returned %v before anything was released", err)
	default:
	}
	a.Release(50)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if h := server.Held(); h != 100 {
		t.Errorf("server holds %d, want 100", h)
	}
}

func TestReserveGivesUpWithTheContext(t *testing.T) {
	b := budget.New("memory_budget", 10, budget.Bytes, nil)
	b.TryReserve(10, "x")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- b.Reserve(ctx, 5, "y") }()
	for b.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-got
	if !errors.Is(err, budget.ErrExceeded) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrExceeded and context.Canceled", err)
	}
	if b.Held() != 10 {
		t.Errorf("held %d after a canceled wait, want 10", b.Held())
	}
}

// Pressure asks for spare memory (pools) first, and for idle memory (parked
// instances) only when that was not enough, in every tenant under the full
// budget.
func TestPressureAsksForSpareThenIdleAcrossTenants(t *testing.T) {
	server := budget.New("server_memory_budget", 100, budget.Bytes, nil)
	quiet := budget.New("memory_budget", 0, budget.Bytes, server)
	attacker := budget.New("memory_budget", 0, budget.Bytes, server)
	var mu sync.Mutex
	var asked []string
	pool, parked := int64(20), int64(40)
	quiet.TryReserve(pool+parked, "pool and parked")
	quiet.OnPressure(func(need int64, s budget.Stage) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case budget.Spare:
			asked = append(asked, "spare")
			quiet.Release(pool)
		case budget.Idle:
			asked = append(asked, "idle")
			go quiet.Release(parked) // an eviction finishes on another goroutine
		}
	})
	attacker.TryReserve(40, "running")
	if err := attacker.TryReserve(20, "a pool instance"); err != nil {
		t.Fatalf("spare memory was not given back for a try: %v", err)
	}
	if err := attacker.Reserve(context.Background(), 40, "a run"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, ",") != "spare,spare,idle" {
		t.Errorf("asked for %v, want spare (try), then spare and idle (reserve)", asked)
	}
}

func TestConcurrentReservationsNeverOversubscribe(t *testing.T) {
	server := budget.New("server_memory_budget", 1000, budget.Bytes, nil)
	tenants := []*budget.Budget{
		budget.New("memory_budget", 600, budget.Bytes, server),
		budget.New("memory_budget", 600, budget.Bytes, server),
		budget.New("memory_budget", 600, budget.Bytes, server),
	}
	var wg sync.WaitGroup
	for i := range 12 {
		b := tenants[i%3]
		wg.Go(func() {
			for range 300 {
				if err := b.Reserve(context.Background(), 100, "x"); err != nil {
					t.Error(err)
					return
				}
				if h := server.Held(); h > 1000 {
					t.Errorf("server holds %d of 1000", h)
				}
				b.Release(100)
			}
		})
	}
	wg.Wait()
	if s := server.Stats(); s.Held != 0 || s.Peak > 1000 {
		t.Errorf("server stats %+v: want nothing held and a peak within 1000", s)
	}
}

func TestCountBudgetsReadAsCounts(t *testing.T) {
	b := budget.New("compiles", 1, budget.Count, nil)
	b.TryReserve(1, "a compile")
	err := b.TryReserve(1, "another compile")
	if err == nil || !strings.Contains(err.Error(), "needs 1, and 1 of the budget's 1 are held") {
		t.Errorf("err = %v", err)
	}
}
