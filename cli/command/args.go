package command

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags follow a command's arguments, as in
// `reprise run hello.wasm --input '{}'` or `reprise get ID --data DIR`.
// urfave/cli v2 parses flags with the standard flag package, which stops at
// the first argument that is not a flag; so before parsing, the command's
// flags (with their values) are moved ahead of its arguments, and global
// flags given after the command are moved ahead of the command. Everything
// after "--" stays an argument.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	global := flagArity(app.Flags)
	out := []string{args[0]}
	i := 1
	for i < len(args) && isFlagArg(args[i]) {
		i += takeFlag(&out, global, args, i)
	}
	if i >= len(args) || args[i] == "--" {
		return append(out, args[i:]...)
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return append(out, args[i:]...) // the root action reports the unknown command
	}
	name := args[i]
	local := flagArity(cmd.Flags)
	var flags, pos []string
	dashes := false
	for i++; i < len(args); {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			dashes = true
			i = len(args)
		case isFlagArg(a):
			n := flagArgName(a)
			if _, ok := local[n]; !ok {
				if _, ok := global[n]; ok {
					i += takeFlag(&out, global, args, i)
					continue
				}
			}
			i += takeFlag(&flags, local, args, i)
		default:
			pos = append(pos, a)
			i++
		}
	}
	out = append(out, name)
	out = append(out, flags...)
	if dashes {
		out = append(out, "--")
	}
	return append(out, pos...)
}

// takeFlag appends the flag at args[i], and its value when it takes one and
// it is not given inline (--x=v), to dst; it returns how many args it took.
func takeFlag(dst *[]string, arity map[string]bool, args []string, i int) int {
	a := args[i]
	*dst = append(*dst, a)
	if strings.Contains(a, "=") || !arity[flagArgName(a)] || i+1 >= len(args) {
		return 1
	}
	*dst = append(*dst, args[i+1])
	return 2
}

// flagArity maps each flag name (and alias) to whether it takes a value.
// Flags not listed (such as --help) are taken to be booleans.
func flagArity(fs []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

func isFlagArg(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

func flagArgName(a string) string {
	n := strings.TrimLeft(a, "-")
	n, _, _ = strings.Cut(n, "=")
	return n
}
