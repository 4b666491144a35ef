//go:build unix

package sshconfig

import (
	"fmt"
	"os"
	"syscall"
)

// CheckPerm refuses a configuration file that ssh refuses: one owned by
// neither root nor the local user, or writable by its group or others
// (readconf.c read_config_file_depth, SSHCONF_CHECKPERM: the user's
// ~/.ssh/config and every Included file; OpenSSH 9.2p1 ends with "Bad owner
// or permissions on FILE"). Debian's ssh also accepts a group-writable
// file whose group has the owner as its only member; upstream's rule, the
// stricter, is the one kept here.
func CheckPerm(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	uid := os.Getuid()
	if (st.Uid != 0 && int(st.Uid) != uid) || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("bad owner or permissions on %s (owner uid %d, mode %04o): ssh refuses it; it must be owned by you or root and not writable by group or others (chmod go-w)", path, st.Uid, fi.Mode().Perm())
	}
	return nil
}
