package badgerstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Badger's sizes for a store. Badger's defaults are made for one large
// database per process (64 MiB memtables, five of them, a 256 MiB block
// cache, 1 GiB value-log files); a server holds one store per tenant, so a
// store here is small, and what Badger may write on its own (a memtable
// flush, a compaction) stays small enough for the disk reserve to cover it.
const (
	// memTableSize bounds a memtable (and its write-ahead log). Badger
	// allows a transaction 15% of it, which the batch limits of tx.go
	// stay under.
	memTableSize = 16 << 20
	// numMemtables is how many memtables, the active one included, may
	// wait to be flushed before writes stall.
	numMemtables = 2
	// valueThreshold sends values from 1 KiB on to the value log: they are
	// written once, by the commit the space check let through, and not
	// again by flushes and compactions, which then move only keys, small
	// values and pointers.
	valueThreshold = 1 << 10
	// valueLogFileSize is where Badger starts a new value-log file.
	valueLogFileSize = 64 << 20
	// blockCacheSize caches decompressed table blocks (Badger requires a
	// cache when tables are compressed).
	blockCacheSize = 8 << 20
)

// badgerOptions are the options of the store in dir.
func badgerOptions(dir string, log *slog.Logger, readOnly bool) badger.Options {
	// No WithLoggingLevel: it replaces the logger by Badger's default one
	// (which writes to stderr past our handler); badgerLogger keeps only
	// warnings and errors itself.
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(true).       // one fsync per batch: see the package doc
		WithDetectConflicts(false). // the committer is the only writer
		WithMetricsEnabled(false).  // Badger's metrics are process-global expvars
		WithReadOnly(readOnly).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithNumCompactors(2).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithBlockCacheSize(blockCacheSize).
		WithCompression(options.Snappy)
}

// openBadger opens Badger in dir, read-write or read-only.
func openBadger(dir string, log *slog.Logger, readOnly bool) (*badger.DB, error) {
	if err := removeEmptyLogs(dir, log); err != nil {
		return nil, err
	}
	bdb, err := badger.Open(badgerOptions(dir, log, readOnly))
	if err != nil {
		// Badger's error does not wrap the flock error; its message is all we have.
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return nil, err
	}
	return bdb, nil
}

// removeEmptyLogs removes the zero-length value-log (NNNNNN.vlog) and
// memtable-log (NNNNN.mem) files of dir. Badger creates each such file
// empty and only then sizes it and writes its header, so a process killed
// in between leaves a zero-length one, which a later badger.Open refuses
// ("Open existing file ... Create a new file"). A zero-length log holds
// nothing: removing it loses nothing, and the store opens.
func removeEmptyLogs(dir string, log *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read store directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || (!strings.HasSuffix(name, ".vlog") && !strings.HasSuffix(name, ".mem")) {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() != 0 {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("remove the empty log file a crash left: %w", err)
		}
		log.Warn("removed an empty log file left by a process killed while it created it", "file", name)
	}
	return nil
}
