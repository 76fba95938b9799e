package wasmbin

import (
	"fmt"
	"reflect"
	"testing"
)

func TestReadLimits(t *testing.T) {
	m := read(t, module(
		section(4, vec(funcref(1), funcref(2, 3))),
		section(5, vec(limits(1), limits(2, 1<<16))),
	))
	if want := []Limits{{Min: 1}, {Min: 2, Max: 3, HasMax: true}}; !reflect.DeepEqual(m.Tables, want) {
		t.Errorf("Tables %+v, want %+v", m.Tables, want)
	}
	if want := []Limits{{Min: 1}, {Min: 2, Max: 1 << 16, HasMax: true}}; !reflect.DeepEqual(m.Memories, want) {
		t.Errorf("Memories %+v, want %+v", m.Memories, want)
	}
}

func TestReadRefusesLimitsFlagsOtherThan0And1(t *testing.T) {
	const unsupported = "only 32-bit unshared memories and tables are supported (Wasm 2.0, no threads or memory64)"
	var cases []refusal
	for _, flags := range []byte{2, 3, 4, 5, 7, 0x80} {
		cases = append(cases,
			refusal{fmt.Sprintf("memory 0x%02x", flags), module(section(5, vec([]byte{flags, 1, 1}))),
				fmt.Sprintf("section 5 at offset 8: limits flags 0x%02x at offset 11: %s", flags, unsupported)},
			refusal{fmt.Sprintf("table 0x%02x", flags), module(section(4, vec([]byte{0x70, flags, 1, 1}))),
				fmt.Sprintf("section 4 at offset 8: limits flags 0x%02x at offset 12: %s", flags, unsupported)},
			refusal{fmt.Sprintf("imported memory 0x%02x", flags), module(section(2, vec(cat(str("e"), str("m"), []byte{2, flags, 1, 1})))),
				fmt.Sprintf("section 2 at offset 8: limits flags 0x%02x at offset 16: %s", flags, unsupported)},
			refusal{fmt.Sprintf("imported table 0x%02x", flags), module(section(2, vec(cat(str("e"), str("t"), []byte{1, 0x70, flags, 1, 1})))),
				fmt.Sprintf("section 2 at offset 8: limits flags 0x%02x at offset 17: %s", flags, unsupported)},
		)
	}
	testRefusals(t, cases)
}
