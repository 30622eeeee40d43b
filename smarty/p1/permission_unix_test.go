//go:build unix

package p1

import (
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestDescribePermission: a permission error says who may open the
// device, from its owner, group and mode, and how to become one of them:
// the dialout advice only when the group may read and write it.
func TestDescribePermission(t *testing.T) {
	char := fs.ModeDevice | fs.ModeCharDevice
	tests := []struct {
		name         string
		mode         fs.FileMode
		owner, group string
		root         bool
		want         string
	}{
		{"root:dialout 0660", char | 0o660, "root", "dialout", false,
			" (crw-rw----, owner root, group dialout): add your user to the group dialout (sudo usermod -aG dialout $USER, then log in again)"},
		{"root:uucp 0660", char | 0o660, "root", "uucp", false,
			" (crw-rw----, owner root, group uucp): add your user to the group uucp (sudo usermod -aG uucp $USER, then log in again)"},
		{"root:root 0600", char | 0o600, "root", "root", false,
			` (crw-------, owner root, group root): only root may open it; a udev rule can give it to a group, for example GROUP="dialout", MODE="0660", then add your user to that group`},
		{"root:dialout 0600", char | 0o600, "root", "dialout", false,
			` (crw-------, owner root, group dialout): only root may open it; a udev rule can give it to a group, for example GROUP="dialout", MODE="0660", then add your user to that group`},
		{"no names, in a container", char | 0o600, "0", "0", false,
			` (crw-------, owner 0, group 0): only the user with uid 0 may open it; a udev rule can give it to a group, for example GROUP="dialout", MODE="0660", then add your user to that group`},
		{"open to all", char | 0o666, "root", "root", false,
			" (crw-rw-rw-, owner root, group root): every user may open it, so something else forbids it (a container or a security module)"},
		{"as root", char | 0o660, "root", "dialout", true,
			" (crw-rw----, owner root, group dialout): even root may not open it here (a container or a security module may forbid it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describePermission(tt.mode, tt.owner, tt.group, tt.root); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestPermissionAdviceOfRealDevice reads the owner and group of a real
// file: the advice names them.
func TestPermissionAdviceOfRealDevice(t *testing.T) {
	_, path := srcPty(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	got := permissionAdvice(path)
	want := ", owner " + userName(st.Uid) + ", group " + groupName(st.Gid) + ")"
	if !strings.Contains(got, want) {
		t.Errorf("advice %q does not contain %q", got, want)
	}
}
