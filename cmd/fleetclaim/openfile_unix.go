//go:build unix

package main

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path with flag and perm, never through a symbolic link
// as its last element (errSymlink): O_NOFOLLOW.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errSymlink
	}
	return f, err
}

// fileOwner is the uid that owns the file st describes.
func fileOwner(st fs.FileInfo) (uid int, ok bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}
