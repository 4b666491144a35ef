package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebugFileRefusesLinksAndFixesMode: --debug-file never writes through
// a symbolic link (the target is left alone), gives an existing file of
// the user's mode 0600 before anything is written to it, and creates a new
// one 0600.
func TestDebugFileRefusesLinksAndFixesMode(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "debug.log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	d, closeDebug, err := openDebug(false, link, nil, nil)
	if err == nil {
		d.logf("h", "written through the link")
		closeDebug()
		t.Error("--debug-file wrote through a symbolic link")
	} else if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error %q does not say it is a symbolic link", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Errorf("the link's target now holds %q", b)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o644 {
		t.Errorf("the link's target's mode changed to %v", st.Mode().Perm())
	}

	existing := filepath.Join(dir, "existing.log")
	if err := os.WriteFile(existing, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, closeDebug, err = openDebug(false, existing, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.logf("h", "traced")
	closeDebug()
	st, _ := os.Stat(existing)
	b, _ := os.ReadFile(existing)
	if st.Mode().Perm() != 0o600 || !strings.HasPrefix(string(b), "earlier\n") || !strings.Contains(string(b), "traced") {
		t.Errorf("existing file: mode %v, content %q; want 0600, appended", st.Mode().Perm(), b)
	}

	fresh := filepath.Join(dir, "fresh.log")
	d, closeDebug, err = openDebug(false, fresh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeDebug()
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v %v, want mode 0600", st.Mode(), err)
	}
}

// TestDebugFileRefusesOthersFiles: as root, a file another user owns (one
// they could have placed, or linked, where the trace goes) is refused.
func TestDebugFileRefusesOthersFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs.log")
	if err := os.WriteFile(theirs, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, closeDebug, err := openDebug(false, theirs, nil, nil); err == nil {
		closeDebug()
		t.Fatal("--debug-file opened a file another user owns")
	}
}
