package host

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// clockStep is how far the virtual clock moves on each read, so a guest that
// polls the clock still sees time pass — the same way on every replay.
const clockStep = 1000 // ns

// bootSeed seeds instances created ahead of need, before they know their
// execution. It is fixed so that what a guest's runtime does while it
// initializes is the same on every replay.
var bootSeed = [32]byte{'r', 'e', 'p', 'r', 'i', 's', 'e'}

// sandbox is the world WASI shows one instance: virtual clocks, a seeded
// random source and captured output. It is used only from the goroutine that
// runs the instance (or, before that, the one that created it).
type sandbox struct {
	mono     int64 // virtual monotonic clock, ns
	wallBase int64 // Unix ns at mono == 0
	rng      *rand.ChaCha8
	run      *run // nil until the instance is bound to an execution
	out      outWriter
}

func newSandbox() *sandbox {
	s := &sandbox{rng: rand.NewChaCha8(bootSeed)}
	s.out.s = s
	return s
}

// bind hands the instance to r: from now on WASI random is seeded by the
// execution attempt and wall time counts from the attempt's recorded start.
func (s *sandbox) bind(r *run) {
	s.run = r
	s.wallBase = r.exec.AttemptStart - s.mono
	var seed [32]byte
	h := sha256.New()
	h.Write([]byte(r.exec.ID))
	binary.Write(h, binary.BigEndian, r.exec.Attempt)
	h.Sum(seed[:0])
	s.rng = rand.NewChaCha8(seed)
}

func (s *sandbox) Nanotime() int64 {
	s.mono += clockStep
	return s.mono
}

func (s *sandbox) Walltime() (int64, int32) {
	s.mono += clockStep
	t := s.wallBase + s.mono
	return t / 1e9, int32(t % 1e9)
}

// Nanosleep advances virtual time and returns at once: a guest's own sleeps
// cost nothing and replay identically. Durable sleeps are host calls.
func (s *sandbox) Nanosleep(ns int64) {
	if ns > 0 {
		s.mono += ns
	}
}

// advance moves virtual time by a durable sleep's length.
func (s *sandbox) advance(ns int64) { s.Nanosleep(ns) }

func (s *sandbox) Read(p []byte) (int, error) { return s.rng.Read(p) }

func (s *sandbox) Stdout() io.Writer { return &s.out }
func (s *sandbox) Stderr() io.Writer { return &s.out }

// outWriter sends guest stdout/stderr to the execution, which logs it (not
// while replaying) and keeps its tail for trap messages.
type outWriter struct{ s *sandbox }

func (w *outWriter) Write(p []byte) (int, error) {
	if r := w.s.run; r != nil {
		r.output(p)
	}
	return len(p), nil
}
