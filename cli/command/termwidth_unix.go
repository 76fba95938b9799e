//go:build unix

package command

import (
	"os"

	"golang.org/x/sys/unix"
)

// termWidth is the width of terminal f in columns, 0 when unknown.
func termWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
