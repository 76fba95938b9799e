package command

import (
	"io"
	"os"
	"sync"
)

// isTerminal reports whether w is a character device (a terminal). It
// avoids a dependency on golang.org/x/term; the only character device it
// mistakes for a terminal is /dev/null, where extra output is harmless.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// console is stderr shared by log lines and, on a terminal, one status line
// redrawn in place: a log line erases the status, prints, and redraws it, so
// the two never garble each other.
type console struct {
	mu     sync.Mutex // guards status and every write to w
	w      io.Writer
	tty    bool
	status string // the status line shown, "" for none
}

func newConsole(w io.Writer) *console {
	return &console{w: w, tty: isTerminal(w)}
}

// clearLine is carriage return plus "erase to end of line".
const clearLine = "\r\x1b[K"

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == "" {
		return c.w.Write(p)
	}
	io.WriteString(c.w, clearLine)
	n, err := c.w.Write(p)
	io.WriteString(c.w, c.status)
	return n, err
}

// setStatus shows s as the status line (terminal only); "" removes it. A
// line wider than the terminal would wrap and defeat the redraw, so it is
// cut to the terminal's width.
func (c *console) setStatus(s string) {
	if !c.tty {
		return
	}
	if f, ok := c.w.(*os.File); ok {
		if w := termWidth(f); w > 1 {
			if r := []rune(s); len(r) > w-1 {
				s = string(r[:w-2]) + "…"
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == c.status {
		return
	}
	io.WriteString(c.w, clearLine+s)
	c.status = s
}
