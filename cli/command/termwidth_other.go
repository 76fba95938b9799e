//go:build !unix

package command

import "os"

// termWidth is the width of terminal f in columns, 0 when unknown.
func termWidth(*os.File) int { return 0 }
