// Package readme holds the test that runs the command blocks of the
// project's README.md as a user would type them (see readme_test.go). It
// has no code of its own.
package readme
