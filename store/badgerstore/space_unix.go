//go:build linux || darwin || freebsd

package badgerstore

import (
	"fmt"
	"io/fs"
	"syscall"
)

// freeSpace is what the file system of dir has free for an unprivileged
// writer, in bytes.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// allocated is what a file occupies: its allocated blocks, not its length.
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
