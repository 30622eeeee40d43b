//go:build !unix

package simserve

import "os"

// pollable returns f: pseudo-terminals are for Unix systems only.
func pollable(f *os.File) (*os.File, error) { return f, nil }
