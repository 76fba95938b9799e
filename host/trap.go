package host

import (
	"errors"
	"fmt"

	"github.com/reprise-wasm/reprise/engine"
)

// isExit reports whether err is the guest's proc_exit with code.
func isExit(err error, code uint32) bool {
	var exit *engine.ExitError
	return errors.As(err, &exit) && exit.Code == code
}

// trapMessage is the message and the wasm stack of how the guest failed,
// from the engine's error (see engine.Instance.Call).
func trapMessage(err error) (string, string) {
	var exit *engine.ExitError
	var trap *engine.TrapError
	var panicked *engine.HostPanicError
	switch {
	case errors.As(err, &exit):
		return fmt.Sprintf("the guest exited with code %d", exit.Code), ""
	case errors.As(err, &trap):
		msg := trap.Message
		if mem := (*engine.MemoryError)(nil); errors.As(err, &mem) {
			msg += mem.Note()
		}
		return msg, trap.Stack.String()
	case errors.As(err, &panicked):
		return panicked.Error(), panicked.Stack.String()
	}
	return err.Error(), ""
}

// isDepthOverflow reports whether err is a trap in guard, the function a
// module's counted calls call when they nest past the call stack budget
// (see internal/wasmbin's DepthLimit).
func isDepthOverflow(err error, guard string) bool {
	var trap *engine.TrapError
	return guard != "" && errors.As(err, &trap) && len(trap.Stack) > 0 && trap.Stack[0].Func == guard
}
