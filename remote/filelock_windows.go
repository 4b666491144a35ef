//go:build windows

package remote

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockAllBytes is the range LockFileEx locks: the whole file, as the go
// command's own file lock does on Windows.
const lockAllBytes = ^uint32(0)

// tryLockFile takes an exclusive lock on f without waiting; busy reports
// that another process holds it.
func tryLockFile(f *os.File) (busy bool, err error) {
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, lockAllBytes, lockAllBytes, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}

// unlockFile lets go of tryLockFile's lock.
func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, lockAllBytes, lockAllBytes, new(windows.Overlapped))
}
