//go:build !(linux || darwin || freebsd)

package badgerstore

import (
	"errors"
	"io/fs"
)

// freeSpace cannot tell the free space on this system: the disk reserve is
// not checked here (the storage quota is).
func freeSpace(string) (int64, error) {
	return -1, errors.New("free disk space is not known on this system")
}

// allocated is what a file occupies; here, its length.
func allocated(fi fs.FileInfo) int64 { return fi.Size() }
