//go:build !unix

package tenant

import (
	"errors"
	"fmt"
	"os"
)

// lockFile is a no-op where flock is missing: concurrent `reprise tenant`
// commands may then race.
func lockFile(string) (func(), error) { return func() {}, nil }

func stat(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, fmt.Errorf("tenants: %w", err)
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}
