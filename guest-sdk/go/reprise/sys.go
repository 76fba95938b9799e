//go:build wasip1

package reprise

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	"github.com/reprise-wasm/reprise/abi"
)

// Now returns the real wall-clock time. It is journaled: on replay it
// returns what it returned the first time. (time.Now in a guest reads a
// virtual clock, deterministic but not real.)
func Now() time.Time {
	return time.Unix(0, hostNow())
}

// Random fills b with cryptographically random bytes. It is journaled, so
// replay sees the same bytes. (math/rand and crypto/rand in a guest are
// seeded deterministically per attempt.)
func Random(b []byte) {
	const maxPerCall = 4096 // the host's limit per random call
	for len(b) > 0 {
		n := min(len(b), maxPerCall)
		must("random", hostRandom(ptr(b), uint32(n)))
		runtime.KeepAlive(b)
		b = b[n:]
	}
}

// RandomUint64 returns a journaled random number.
func RandomUint64() uint64 {
	var b [8]byte
	Random(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

var execID string

// ID returns the id of this execution's own promise. Children it invokes get
// ids derived from it.
func ID() string {
	if execID == "" {
		execID = promiseID(0)
	}
	return execID
}

// Level is a log level.
type Level int32

// Log levels.
const (
	LevelDebug Level = abi.LogDebug
	LevelInfo  Level = abi.LogInfo
	LevelWarn  Level = abi.LogWarn
	LevelError Level = abi.LogError
)

// Log writes msg to the host's log at info level. The host prints each line
// once: lines logged again during replay are suppressed.
func Log(msg string) { logAt(LevelInfo, msg) }

// Logf is Log with fmt.Sprintf formatting.
func Logf(format string, args ...any) { logAt(LevelInfo, fmt.Sprintf(format, args...)) }

// LogAt is Logf at the given level.
func LogAt(level Level, format string, args ...any) { logAt(level, fmt.Sprintf(format, args...)) }

func logAt(level Level, msg string) {
	hostLog(int32(level), strPtr(msg), uint32(len(msg)))
	runtime.KeepAlive(msg)
}
