//go:build unix

package p1

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// permissionAdvice says, after "permission denied on DEVICE", who may open
// the device and how to become one of them: from its owner, group and
// mode, not a guess.
func permissionAdvice(device string) string {
	fi, err := os.Stat(device)
	if err != nil {
		return ": run as a user allowed to use serial ports (on most systems a member of the group dialout)"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ": run as a user allowed to use serial ports (on most systems a member of the group dialout)"
	}
	return describePermission(fi.Mode(), userName(st.Uid), groupName(st.Gid), os.Geteuid() == 0)
}

// describePermission is permissionAdvice for a device of the given mode,
// owner and group.
func describePermission(mode fs.FileMode, owner, group string, root bool) string {
	perm := mode.Perm()
	head := fmt.Sprintf(" (%s, owner %s, group %s)", lsMode(mode), owner, group)
	switch {
	case root:
		return head + ": even root may not open it here (a container or a security module may forbid it)"
	case perm&0o060 == 0o060 && group != "root":
		return head + fmt.Sprintf(": add your user to the group %s (sudo usermod -aG %s $USER, then log in again)", group, group)
	case perm&0o006 == 0o006:
		return head + ": every user may open it, so something else forbids it (a container or a security module)"
	}
	who := owner
	if _, err := strconv.ParseUint(owner, 10, 32); err == nil {
		who = "the user with uid " + owner // no name on this system (a container)
	}
	return head + fmt.Sprintf(": only %s may open it; a udev rule can give it to a group, for example GROUP=\"dialout\", MODE=\"0660\", then add your user to that group", who)
}

// lsMode writes a device's mode as ls does: crw-rw----.
func lsMode(m fs.FileMode) string {
	kind := "-"
	switch {
	case m&fs.ModeCharDevice != 0:
		kind = "c"
	case m&fs.ModeDevice != 0:
		kind = "b"
	}
	return kind + m.Perm().String()[1:]
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}
