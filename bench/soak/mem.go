//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

// memoryFigures are the process's memory, after a GC.
type memoryFigures struct {
	rss, peakRSS     uint64 // VmRSS, VmHWM of /proc/self/status
	rssAnon, rssFile uint64 // RssAnon, RssFile: Go's memory and the engine's; Badger's mmapped files
	heapInuse        uint64 // runtime.MemStats.HeapInuse
	heapObjects      uint64
	// retained is heap the Go runtime has freed but not yet returned to
	// the system (HeapIdle - HeapReleased): it counts in RSS until the
	// runtime's scavenger gives it back.
	retained uint64
}

// readMemory collects garbage and reads the figures.
func readMemory() memoryFigures {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memoryFigures{heapInuse: ms.HeapInuse, heapObjects: ms.HeapObjects, retained: ms.HeapIdle - ms.HeapReleased}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb << 10
		case "VmHWM":
			m.peakRSS = kb << 10
		case "RssAnon":
			m.rssAnon = kb << 10
		case "RssFile":
			m.rssFile = kb << 10
		}
	}
	return m
}

func (m memoryFigures) String() string {
	return fmt.Sprintf("RSS %s (anon %s, files %s), heap in use %s, objects %d, freed not returned %s",
		mib(m.rss), mib(m.rssAnon), mib(m.rssFile), mib(m.heapInuse), m.heapObjects, mib(m.retained))
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// diskUse is what the files under dir take: allocated blocks (Badger's
// mmapped logs are sparse) and apparent size.
func diskUse(dir string) string {
	var alloc, size int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		size += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			alloc += st.Blocks * 512
		}
		return nil
	})
	return fmt.Sprintf("%s on disk (%s apparent)", mib(uint64(alloc)), mib(uint64(size)))
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startCPUProfile profiles the CPU into path until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
