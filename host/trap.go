package host

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// isExit reports whether err is the guest's proc_exit with code.
func isExit(err error, code uint32) bool {
	var exit *sys.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == code
}

// trapMessage splits wazero's error into the message and the wasm stack.
func trapMessage(err error) (string, string) {
	s := err.Error()
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Sprintf("the guest exited with code %d", exit.ExitCode()), ""
	}
	s = strings.TrimPrefix(s, "wasm error: ")
	if i := strings.Index(s, "\nwasm stack trace:"); i >= 0 {
		return s[:i], strings.TrimSpace(s[i+1:])
	}
	return s, ""
}
