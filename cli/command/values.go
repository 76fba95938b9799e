package command

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// jsonFlag reads a JSON-valued flag (--input, --value): the JSON text itself,
// @FILE for a file's contents, or - for stdin. It returns nil when the flag
// is not set, and a usage error naming the flag when the text is not JSON.
func (a *app) jsonFlag(c *cli.Context, name string) ([]byte, error) {
	if !c.IsSet(name) {
		return nil, nil
	}
	v := c.String(name)
	var b []byte
	switch {
	case v == "-":
		var err error
		if b, err = io.ReadAll(a.stdin); err != nil {
			return nil, fmt.Errorf("--%s -: read stdin: %w", name, err)
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, usageErrorf("--%s %s: %v", name, v, err)
		}
	default:
		b = []byte(v)
	}
	b = bytes.TrimSpace(b)
	if err := checkJSON(b); err != nil {
		return nil, usageErrorf("--%s is not valid JSON: %v; give a JSON value, e.g. --%s '{\"name\":\"Ada\"}' or, for a string, --%s '\"text\"'",
			name, err, name, name)
	}
	return b, nil
}

// checkJSON says why b is not one JSON value, or nil.
func checkJSON(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("it is empty")
	}
	var v any
	return json.Unmarshal(b, &v)
}

// writeValue prints a result: the value's bytes and a newline, indented when
// stdout is a terminal and the value is JSON. An empty value prints nothing.
func (a *app) writeValue(v []byte) {
	if len(v) == 0 {
		return
	}
	if a.outTTY && json.Valid(v) {
		var buf bytes.Buffer
		if json.Indent(&buf, v, "", "  ") == nil {
			v = buf.Bytes()
		}
	}
	a.stdout.Write(v)
	if v[len(v)-1] != '\n' {
		io.WriteString(a.stdout, "\n")
	}
}

// writeJSON prints v as indented JSON.
func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// rejection describes a rejected promise's value for a person: the "error"
// field of the {"error": ..., "stack": ...} shape the host and SDKs write,
// with the stack on the following lines, or the raw value otherwise.
func rejection(v []byte) string {
	var e abi.Error
	if json.Unmarshal(v, &e) == nil && e.Message != "" {
		if e.Stack != "" {
			return e.Message + "\n" + e.Stack
		}
		return e.Message
	}
	if len(v) == 0 {
		return "(no value)"
	}
	return string(v)
}

// Times in JSON output are RFC 3339 in UTC with milliseconds.
const jsonTime = "2006-01-02T15:04:05.000Z07:00"

func msTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(jsonTime) }

// localTime is a Unix ms time for a person: local, to the second.
func localTime(ms int64) string { return time.UnixMilli(ms).Format("2006-01-02 15:04:05") }

// valueJSON is a param or value as get, ls and history print it: JSON bytes
// are embedded as they are; other bytes as a base64 string, with the
// sibling "…Encoding" field set to "base64". Empty bytes are omitted.
func valueJSON(b []byte) (json.RawMessage, string) {
	if len(b) == 0 {
		return nil, ""
	}
	if json.Valid(b) {
		return json.RawMessage(b), ""
	}
	s, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	return s, "base64"
}

// promiseView is `reprise get`'s JSON shape of a promise (every execution
// is one, and then Execution is set).
type promiseView struct {
	ID            string            `json:"id"`
	State         string            `json:"state"`
	Param         json.RawMessage   `json:"param,omitempty"`
	ParamEncoding string            `json:"paramEncoding,omitempty"`
	ParamHeaders  map[string]string `json:"paramHeaders,omitempty"`
	Value         json.RawMessage   `json:"value,omitempty"`
	ValueEncoding string            `json:"valueEncoding,omitempty"`
	ValueHeaders  map[string]string `json:"valueHeaders,omitempty"`
	Timeout       string            `json:"timeout,omitempty"` // omitted when none
	CreatedOn     string            `json:"createdOn"`
	CompletedOn   string            `json:"completedOn,omitempty"` // omitted while pending
	Tags          map[string]string `json:"tags,omitempty"`
	Execution     *executionView    `json:"execution,omitempty"`
}

type executionView struct {
	Function     string `json:"function"`
	Module       string `json:"module"`
	Entry        string `json:"entry"`
	Attempt      uint32 `json:"attempt"`
	AttemptStart string `json:"attemptStart"`
	Parent       string `json:"parent,omitempty"`
	LastError    string `json:"lastError,omitempty"`
}

func viewPromise(p store.Promise) promiseView {
	v := promiseView{ID: p.ID, State: p.State.String(), Tags: p.Tags,
		CreatedOn: msTime(p.CreatedOn), ParamHeaders: p.Param.Headers, ValueHeaders: p.Value.Headers}
	v.Param, v.ParamEncoding = valueJSON(p.Param.Data)
	v.Value, v.ValueEncoding = valueJSON(p.Value.Data)
	if p.Timeout != store.NoTimeout {
		v.Timeout = msTime(p.Timeout)
	}
	if p.CompletedOn != 0 {
		v.CompletedOn = msTime(p.CompletedOn)
	}
	return v
}

func viewExecution(e store.Execution) *executionView {
	return &executionView{Function: e.Function, Module: e.Module, Entry: e.Entry, Attempt: e.Attempt,
		AttemptStart: time.Unix(0, e.AttemptStart).UTC().Format(jsonTime), Parent: e.Parent, LastError: e.LastError}
}

// what names what a promise is: the function of an execution, else the kind
// of call that made it (sleep, promise, http), else "promise".
func what(p store.Promise) string {
	if f := p.Tags[host.TagFunction]; f != "" {
		return "execution of " + f
	}
	if k := p.Tags[host.TagKind]; k != "" {
		return k
	}
	return "promise"
}
