package wasmbin

import "fmt"

// imports reads the import section, and records in m the imports of
// anything other than a function.
func (r *reader) imports(m *Module) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		mod, name := r.name(), r.name()
		kind := r.byte()
		switch kind {
		case 0: // function: type index
			r.typeIndex(m.types)
			m.funcImports++
			continue
		case 1: // table: element type, limits
			r.valType()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: value type, mutability
			r.valType()
			r.byte()
			m.globalImports++
		case 4: // tag (exception handling): attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail("import %s.%s of unknown kind %d", mod, name, kind)
			return
		}
		m.OtherImports = append(m.OtherImports, fmt.Sprintf("%s.%s (%s)", mod, name, importKind(kind)))
	}
}

// importKind names an import's kind as the host's messages say it (kind is
// 1 to 4: functions are not reported, other kinds are refused).
func importKind(kind byte) string {
	return [...]string{"function", "table", "memory", "global", "tag"}[kind]
}
