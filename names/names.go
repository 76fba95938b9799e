package names

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// MaxLen is the longest name or id, in bytes.
const MaxLen = 256

// ErrInvalid is what every refusal of Check wraps; test with errors.Is.
var ErrInvalid = errors.New("bad name")

// Error is a refused name and why it was refused.
type Error struct {
	Name   string // the name as given
	Reason string // why it is refused, e.g. "a name has 1 to 256 bytes, this has 0"
}

// Error says the name, unless it is too long to show, and the reason.
func (e *Error) Error() string {
	if len(e.Name) > MaxLen {
		return fmt.Sprintf("%v: %s", ErrInvalid, e.Reason)
	}
	return fmt.Sprintf("%v: %q: %s", ErrInvalid, e.Name, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Check reports whether s is a valid name or id: nil, or an *Error saying
// why not (see the package doc for the rule).
func Check(s string) error {
	if s == "" || len(s) > MaxLen {
		return &Error{s, fmt.Sprintf("a name has 1 to %d bytes, this has %d", MaxLen, len(s))}
	}
	if s == "." || s == ".." {
		return &Error{s, `"." and ".." are not names`}
	}
	// Invalid UTF-8 ranges as U+FFFD, so one test refuses both.
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '/' || c == '\\' || c == '*' || c == '\ufffd' {
			return &Error{s, `names may not contain spaces, control characters, invalid UTF-8, '/', '\' or '*'`}
		}
	}
	return nil
}

// idBytes is how many random bytes an id holds: 96 bits, so ids made
// anywhere do not collide.
const idBytes = 12

// NewID returns a new random id: 24 lower-case hex digits.
func NewID() string {
	var b [idBytes]byte
	rand.Read(b[:]) // never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}
