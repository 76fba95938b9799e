package host

// DropCustomSections returns wasm without the custom sections the host
// drops before compiling (every one but a well-formed "name" section), and
// with nothing else changed; wasm itself when the host would refuse it.
func DropCustomSections(wasm []byte) []byte {
	d, err := readDeclared(wasm)
	if err != nil {
		return wasm
	}
	d.tables = nil
	return d.rewrite(wasm, 0)
}
