package badgerstore

import (
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// How often the committer measures the store's space. Measuring is one
// statfs and a stat of each of the store's files (tens of them), so it is
// cheap, but not cheap enough for every write: between two measures the
// committer counts what it lets through instead.
const (
	// measureEvery bounds the age of a measure that lets a write through.
	measureEvery = time.Second
	// measureAfterBytes is how much may be counted before a new measure.
	measureAfterBytes = 1 << 20
	// measureRefused is how often a store at a limit measures again, to
	// let writes through as soon as space returns.
	measureRefused = 100 * time.Millisecond
	// writeCost is what one byte written costs on disk until the next
	// measure: once in the memtable's log or the value log, once more in
	// the table a flush makes of it.
	writeCost = 2
)

// usage is one measure of a store's space.
type usage struct {
	// used is what the store's files occupy, in allocated blocks (Badger's
	// mmapped logs are sparse: their apparent size is not what they hold).
	used int64
	// pending is what the memtables' logs hold: a flush writes it again
	// as a table before it deletes the log.
	pending int64
	// free is what the file system has free for this process; -1 when it
	// cannot say.
	free int64
}

// space keeps a store within its quota and its file system's reserve. It
// belongs to the committer goroutine, which alone calls its methods; only
// quota may be changed meanwhile (DB.SetQuota).
type space struct {
	dir     string
	quota   atomic.Int64 // 0: none
	reserve int64        // 0: none
	log     *slog.Logger

	last    usage
	at      time.Time // of last; zero: never measured
	counted int64     // bytes let through since last, times writeCost
	warned  bool      // a measure failed and was logged
}

// on reports whether there is anything to check.
func (s *space) on() bool { return s.quota.Load() > 0 || s.reserve > 0 }

// measure takes a new measure.
func (s *space) measure() {
	u, err := measureDir(s.dir)
	if err != nil && !s.warned {
		s.warned = true
		s.log.Warn("cannot measure the store's space; writes are not checked against the storage limits until it can", "err", err)
	}
	if err == nil {
		s.warned = false
	}
	s.last, s.at, s.counted = u, time.Now(), 0
}

// fresh measures again when the last measure is older than age.
func (s *space) fresh(age time.Duration) {
	if s.at.IsZero() || time.Since(s.at) >= age {
		s.measure()
	}
}

// admit decides whether a write of n bytes may go ahead, and counts it if
// so; a refusal is a *store.StorageFullError naming the limit.
func (s *space) admit(n int) error {
	if !s.on() {
		return nil
	}
	if s.counted >= measureAfterBytes {
		s.measure()
	} else {
		s.fresh(measureEvery)
	}
	cost := int64(n) * writeCost
	err := s.over(cost)
	if err != nil && time.Since(s.at) >= measureRefused {
		s.measure()
		err = s.over(cost)
	}
	if err == nil {
		s.counted += cost
	}
	return err
}

// over reports the limit a further cost bytes would pass, if any.
func (s *space) over(cost int64) error {
	u := s.last
	if s.reserve > 0 && u.free >= 0 {
		if left := u.free - u.pending - s.counted - cost; left < s.reserve {
			return &store.StorageFullError{Limit: store.LimitDiskReserve, Used: max(u.free-u.pending-s.counted, 0), Max: s.reserve}
		}
	}
	if quota := s.quota.Load(); quota > 0 {
		if held := u.used + u.pending + s.counted; held+cost > quota {
			return &store.StorageFullError{Limit: store.LimitStorage, Used: held, Max: quota}
		}
	}
	return nil
}

// full is the error of a write refused while Badger is read-only: the disk
// was at its reserve.
func (s *space) full() error {
	return &store.StorageFullError{Limit: store.LimitDiskReserve, Used: max(s.last.free-s.last.pending, 0), Max: s.reserve}
}

// roomToOpen reports whether Badger may be opened read-write: opening
// flushes the memtables' logs as tables and starts new log files, which
// must all fit above the reserve.
func (s *space) roomToOpen() bool {
	if s.reserve == 0 || s.last.free < 0 {
		return true
	}
	return s.last.free-s.last.pending >= s.reserve
}

// measureDir measures the store in dir.
func measureDir(dir string) (usage, error) {
	u := usage{free: -1}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return u, err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile (a compaction's input)
		}
		n := allocated(fi)
		u.used += n
		if strings.HasSuffix(e.Name(), ".mem") {
			u.pending += n
		}
	}
	free, err := freeSpace(dir)
	if err != nil {
		return u, err
	}
	u.free = free
	return u, nil
}
