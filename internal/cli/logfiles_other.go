//go:build !unix

package cli

// privateFiles does nothing outside Unix: file permissions there follow
// the directory's.
func privateFiles() {}
