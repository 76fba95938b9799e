package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// bigParam is a promise param stored in the value log (over valueThreshold).
func bigParam(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 100<<10) }

// fillUntilFull creates 100 KiB promises until three in a row are refused
// (a refusal on the generous count between two measures may be followed by
// one more write once the store measures again); it returns the ids created
// and the last refusal, which must name limit.
func fillUntilFull(t *testing.T, d *DB, limit string, atMost int) ([]string, *store.StorageFullError) {
	t.Helper()
	var ids []string
	refused := 0
	for i := range atMost {
		id := fmt.Sprintf("p%d", i)
		_, _, err := d.CreatePromise(ctx, store.Create{ID: id, Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(i)}})
		if err == nil {
			ids, refused = append(ids, id), 0
			continue
		}
		var sf *store.StorageFullError
		if !errors.As(err, &sf) || !errors.Is(err, store.ErrStorageFull) || sf.Limit != limit {
			t.Fatalf("write %d failed with %v, want a storage-full error naming %s", i, err, limit)
		}
		if !strings.Contains(err.Error(), "limit "+limit) {
			t.Fatalf("the error does not name the limit: %v", err)
		}
		if refused++; refused == 3 {
			return ids, sf
		}
	}
	t.Fatalf("%d writes of 100 KiB all went through: the %s limit was not enforced", atMost, limit)
	return nil, nil
}

// requireIntact fails unless every promise in ids reads back whole.
func requireIntact(t *testing.T, d *DB, ids []string) {
	t.Helper()
	for _, id := range ids {
		var i int
		fmt.Sscanf(id, "p%d", &i)
		p, err := d.GetPromise(ctx, id)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		if !bytes.Equal(p.Param.Data, bigParam(i)) {
			t.Fatalf("%s: param of %d bytes is not what was written", id, len(p.Param.Data))
		}
	}
}

// A store at its quota (2 MiB here) refuses writes with the quota's name,
// still reads, keeps its committer, and takes writes again with a larger
// quota, set while it is open or when it opens; nothing acknowledged is lost.
func TestQuotaRefusesWritesAndReadsStillWork(t *testing.T) {
	dir := t.TempDir()
	d := openWith(t, dir, Options{Logger: quietLogger(), Quota: 2 << 20})
	ids, sf := fillUntilFull(t, d, store.LimitStorage, 100)
	if sf.Max != 2<<20 || len(ids) < 5 {
		t.Fatalf("refused at %+v after %d writes", sf, len(ids))
	}
	requireIntact(t, d, ids)
	if u, err := measureDir(dir); err != nil || u.used > 2<<20 {
		t.Fatalf("the store occupies %d bytes, over its quota (%v)", u.used, err)
	}
	if _, err := d.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	d.SetQuota(3 << 20) // raised while open: writes resume at once
	create(t, d, store.Create{ID: "raised", Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(2)}})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = openWith(t, dir, Options{Logger: quietLogger(), Quota: 64 << 20})
	requireIntact(t, d, ids)
	create(t, d, store.Create{ID: "after", Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(1)}})
}

// With a reserve larger than the disk's free space, every write is refused
// naming the reserve, and a store that opens so is read-only: reads work.
func TestReserveRefusesWritesAndOpensReadOnly(t *testing.T) {
	dir := t.TempDir()
	d := openAt(t, dir, nil)
	create(t, d, store.Create{ID: "kept", Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(0)}})
	d.Close()

	free, err := freeSpace(dir)
	if err != nil {
		t.Skipf("free space is not known here: %v", err)
	}
	d = openWith(t, dir, Options{Logger: quietLogger(), Reserve: free + 1<<40})
	if !d.readOnly {
		t.Fatal("opened read-write on a disk below its reserve")
	}
	requireIntact(t, d, []string{"kept"})
	_, _, err = d.CreatePromise(ctx, store.Create{ID: "new", Timeout: store.NoTimeout})
	var sf *store.StorageFullError
	if !errors.As(err, &sf) || sf.Limit != store.LimitDiskReserve {
		t.Fatalf("a write below the reserve: %v", err)
	}
	if _, err := d.GetPromise(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused write left something: %v", err)
	}
}

// A fresh store cannot open on a disk below its reserve: it says so.
func TestReserveRefusesToCreateAStore(t *testing.T) {
	dir := t.TempDir()
	free, err := freeSpace(dir)
	if err != nil {
		t.Skipf("free space is not known here: %v", err)
	}
	_, err = Open(filepath.Join(dir, "store"), Options{Logger: quietLogger(), Reserve: free + 1<<40})
	if !errors.Is(err, store.ErrStorageFull) {
		t.Fatalf("Open on a full disk: %v", err)
	}
}

// On a real 16 MiB file system, a store with a 4 MiB reserve fills it up to
// the reserve (writes refused naming it, the process alive), restarts on
// the full disk read-only (reads work, writes refused), and once space is
// freed takes writes again, with every acknowledged write intact.
func TestFullDiskOnTmpfs(t *testing.T) {
	mnt := mountTmpfs(t, "16m")
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, bytes.Repeat([]byte{1}, 5<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "store")
	opts := Options{Logger: quietLogger(), Reserve: 4 << 20}
	d := openWith(t, dir, opts)
	ids, _ := fillUntilFull(t, d, store.LimitDiskReserve, 200)
	requireIntact(t, d, ids)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// Closing flushed the memtable and removed its log, which freed some:
	// take the free space back under the reserve, as other writers would.
	free, err := freeSpace(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ballast+"2", bytes.Repeat([]byte{2}, int(free-2<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	d = openWith(t, dir, opts)
	if !d.readOnly {
		t.Fatal("opened read-write on a disk below its reserve")
	}
	requireIntact(t, d, ids)
	if _, _, err := d.CreatePromise(ctx, store.Create{ID: "x", Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(0)}}); !errors.Is(err, store.ErrStorageFull) {
		t.Fatalf("a write on the full disk after a restart: %v", err)
	}

	for _, f := range []string{ballast, ballast + "2"} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	eventuallyTrue(t, "writes resume once space is freed", func() bool {
		_, _, err := d.CreatePromise(ctx, store.Create{ID: "after", Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(0)}})
		if err != nil && !errors.Is(err, store.ErrStorageFull) {
			t.Fatalf("write after freeing space: %v", err)
		}
		return err == nil
	})
	if d.readOnly {
		t.Fatal("took a write while read-only")
	}
	requireIntact(t, d, ids)
	start(t, d, "exec", "me") // a write with a task: leases are handled after the reopen
}

// openWith opens dir with opts and closes it when the test ends.
func openWith(t *testing.T, dir string, opts Options) *DB {
	t.Helper()
	d, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// mountTmpfs mounts a tmpfs of size for the test, or skips it where mounting
// is not permitted.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("this test needs a small real file system, and mounting a tmpfs is not permitted here (%v: %s); CI runs it as root", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// A zero-length next value-log file, as a kill between Badger's create and
// truncate leaves it, and a zero-length memtable log do not stop the store
// from opening; the store logs what it removed.
func TestOpenWithZeroLengthLogFiles(t *testing.T) {
	dir := t.TempDir()
	d := openAt(t, dir, nil)
	create(t, d, store.Create{ID: "kept", Timeout: store.NoTimeout, Param: store.Value{Data: bigParam(0)}})
	d.Close()
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	mems, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	if len(vlogs) == 0 {
		t.Fatalf("no log files in %s", dir)
	}
	next := func(files []string, ext string, width int) string {
		last := 0
		for _, f := range files {
			var n int
			fmt.Sscanf(filepath.Base(f), "%d", &n)
			last = max(last, n)
		}
		return filepath.Join(dir, fmt.Sprintf("%0*d%s", width, last+1, ext))
	}
	for _, p := range []string{next(vlogs, ".vlog", 6), next(mems, ".mem", 5)} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var logs bytes.Buffer
	d, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("the store does not open after a kill left empty log files: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	requireIntact(t, d, []string{"kept"})
	create(t, d, store.Create{ID: "new", Timeout: store.NoTimeout})
	if n := strings.Count(logs.String(), "removed an empty log file"); n != 2 {
		t.Fatalf("logged %d removals, want 2:\n%s", n, logs.String())
	}
}

// Badger's own messages go to the store's logger, not to Badger's default
// one (WithLoggingLevel would replace it).
func TestBadgerLogsThroughTheStoresLogger(t *testing.T) {
	var logs bytes.Buffer
	opts := badgerOptions(t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)), false)
	l, ok := opts.Logger.(badgerLogger)
	if !ok {
		t.Fatalf("Badger logs through %T, not the store's logger", opts.Logger)
	}
	l.Errorf("disk trouble %d\n", 7)
	if !strings.Contains(logs.String(), `level=ERROR msg="disk trouble 7" source=badger`) {
		t.Fatalf("Badger's error did not reach the store's logger: %q", logs.String())
	}
}

// eventuallyTrue polls ok for up to 10 s.
func eventuallyTrue(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
