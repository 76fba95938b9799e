//go:build linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// purge runs retention over the used store at a period of zero: every
// settled promise goes, as a host's retention loop would purge them (the
// same slices, without its pauses), then the space is reclaimed. It prints
// the disk use before, after the purge and after reclaiming, how long
// each took, and the latency of promise gets made meanwhile, one every
// millisecond, which shows what the purge costs live work. It consumes the
// used store: copy it first to keep it.
func purge(ctx context.Context, o options, log *slog.Logger) error {
	used := filepath.Join(o.dir, "used")
	db, err := badgerstore.Open(used, badgerstore.Options{Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("before: %s; executions by state %v\n", diskUse(used), st.Executions)
	if _, _, err := db.CreatePromise(ctx, store.Create{ID: "soak-probe", Timeout: store.NoTimeout}); err != nil {
		return err
	}
	var lat []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			t0 := time.Now()
			if _, err := db.GetPromise(ctx, "soak-probe"); err == nil {
				lat = append(lat, time.Since(t0))
			}
		}
	})
	t0 := time.Now()
	purged, slices_ := 0, 0
	for {
		n, more, err := db.Purge(ctx, time.Now().UnixMilli(), 256)
		if err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		purged += n
		slices_++
		if !more {
			break
		}
	}
	took := time.Since(t0)
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	fmt.Printf("purged %d promises in %d slices in %s; gets meanwhile: %d, p50 %s, p99 %s, max %s\n", purged, slices_, took.Round(time.Millisecond),
		len(lat), at(lat, 0.5), at(lat, 0.99), at(lat, 1))
	fmt.Printf("after the purge: %s\n", diskUse(used))
	t0 = time.Now()
	if err := db.ReclaimSpace(ctx); err != nil {
		return err
	}
	fmt.Printf("after reclaiming (%s): %s\n", time.Since(t0).Round(time.Millisecond), diskUse(used))
	if st, err = db.Stats(ctx); err == nil {
		fmt.Printf("executions by state now %v, purged %d\n", st.Executions, st.Purged)
	}
	return err
}

// at is the q quantile of sorted lat.
func at(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(q*float64(len(lat))))]
}
