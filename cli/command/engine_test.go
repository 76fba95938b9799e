package command

import (
	"strings"
	"testing"
)

func TestEngineFlagNamesWazeroOrWasmtime(t *testing.T) {
	data := t.TempDir()
	if _, stderr, code := run(t, "--data", data, "--engine", "v8", "ls"); code != ExitUsage || !strings.Contains(stderr, `unknown engine "v8"`) {
		t.Errorf("--engine v8: exit %d, %q", code, stderr)
	}
	if _, stderr, code := run(t, "--data", data, "--engine", "wazero", "ls"); code != ExitOK {
		t.Errorf("--engine wazero: exit %d, %q", code, stderr)
	}
	_, stderr, code := run(t, "--data", data, "--engine", "wasmtime", "ls")
	if _, err := wasmtimeEngine(); err != nil { // built without -tags wasmtime
		if code != ExitUsage || !strings.Contains(stderr, "built without wasmtime; build with -tags wasmtime") {
			t.Errorf("--engine wasmtime without the tag: exit %d, %q", code, stderr)
		}
	} else if code != ExitOK {
		t.Errorf("--engine wasmtime: exit %d, %q", code, stderr)
	}
}
