//go:build !unix

package cmdtest

import "testing"

// HoldPTY does nothing: there are no pseudo-terminals here.
func HoldPTY(tb testing.TB, path string) {}
