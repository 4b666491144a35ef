package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runScript runs script in shell sh with args, the way RunScript sends it
// (on stdin), and returns its stdout, stderr and exit code.
func runScript(t *testing.T, sh, script string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := stdinScript(sh, args...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", sh, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestUploadStageShells runs upload-stage.sh in dash, bash and busybox: a
// private temporary file next to a writable destination, else a private
// directory under TMPDIR, and the sha256 tools found, in order.
func TestUploadStageShells(t *testing.T) {
	for _, sh := range testShells(t, "dash", "bash", "busybox") {
		t.Run(filepath.Base(sh), func(t *testing.T) {
			dir, tmp := t.TempDir(), t.TempDir()
			env := []string{"TMPDIR=" + tmp}
			out, errOut, rc := runScript(t, sh, uploadStageScript, env, dir, "a b's.conf")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if rc != 0 || !strings.HasPrefix(lines[0], "file "+dir+"/.a b's.conf.fleetclaim.") {
				t.Fatalf("rc %d, printed %q %q", rc, out, errOut)
			}
			wantPrivate(t, strings.TrimPrefix(lines[0], "file "), 0o600)
			if p, err := exec.LookPath("sha256sum"); err == nil && (len(lines) < 2 || lines[1] != "hash sha256sum "+p) {
				t.Errorf("hash lines %q, want sha256sum first at %s", lines[1:], p)
			}
			for _, l := range lines[1:] {
				if f := strings.SplitN(l, " ", 3); len(f) != 3 || f[0] != "hash" || !isHashTool(f[1]) {
					t.Errorf("line %q", l)
				}
			}
			// A directory the login user may not write (here: missing).
			out, errOut, rc = runScript(t, sh, uploadStageScript, env, filepath.Join(dir, "missing"), "x.conf")
			if rc != 0 || !strings.HasPrefix(out, "dir "+tmp+"/fleetclaim.") {
				t.Fatalf("rc %d, printed %q %q", rc, out, errOut)
			}
			d := strings.TrimPrefix(strings.SplitN(out, "\n", 2)[0], "dir ")
			wantPrivate(t, d, 0o700|os.ModeDir)
			wantPrivate(t, d+"/x.conf", 0o600)
			// Nowhere to write at all.
			_, _, rc = runScript(t, sh, uploadStageScript, []string{"TMPDIR=" + filepath.Join(tmp, "missing")}, filepath.Join(dir, "missing"), "x.conf")
			if rc != 1 {
				t.Errorf("with nowhere to write: exit %d, want 1", rc)
			}
		})
	}
}

func wantPrivate(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", p, st.Mode(), mode)
	}
}

// TestUploadPlaceShells runs upload-place.sh in dash, bash and busybox:
// the file reaches its destination with its mode only when its sha256 is
// the one wanted; a mismatch, or a link or a directory at the temporary
// name or at the destination, leaves the destination (and what a link
// points to) untouched and no temporary file behind.
func TestUploadPlaceShells(t *testing.T) {
	content := "[global]\n    a = b\n"
	sum := sha256.Sum256([]byte(content))
	want := hex.EncodeToString(sum[:])
	tool, toolPath := "", ""
	for _, x := range []string{"sha256sum", "shasum", "openssl"} {
		if p, err := exec.LookPath(x); err == nil {
			tool, toolPath = x, p
			break
		}
	}
	if tool == "" {
		t.Skip("no sha256 tool")
	}
	for _, sh := range testShells(t, "dash", "bash", "busybox") {
		t.Run(filepath.Base(sh), func(t *testing.T) {
			place := func(src, stagedir, dir, sum string) (string, int) {
				_, errOut, rc := runScript(t, sh, uploadPlaceScript, nil, src, stagedir, dir, "dst.conf", tool, toolPath, sum, "", "0640")
				return errOut, rc
			}
			// Staged next to the destination.
			dir := t.TempDir()
			src := filepath.Join(dir, ".dst.conf.fleetclaim.abc")
			write(t, src, content, 0o600)
			if msg, rc := place(src, "", dir, want); rc != 0 {
				t.Fatalf("exit %d: %s", rc, msg)
			}
			wantFile(t, filepath.Join(dir, "dst.conf"), content, 0o640)
			wantOnly(t, dir, "dst.conf")

			// Staged in a private directory: copied, the directory removed.
			stage := t.TempDir()
			write(t, stage+"/dst.conf", content, 0o600)
			dir = t.TempDir()
			if msg, rc := place(stage+"/dst.conf", stage, dir, want); rc != 0 {
				t.Fatalf("exit %d: %s", rc, msg)
			}
			wantFile(t, filepath.Join(dir, "dst.conf"), content, 0o640)
			wantOnly(t, dir, "dst.conf")
			if _, err := os.Stat(stage); !os.IsNotExist(err) {
				t.Errorf("staging directory left: %v", err)
			}

			// A mismatch: exit 3, nothing placed, nothing left.
			dir = t.TempDir()
			src = filepath.Join(dir, ".dst.conf.fleetclaim.abc")
			write(t, src, content+"tampered", 0o600)
			if msg, rc := place(src, "", dir, want); rc != 3 || !strings.Contains(msg, "sha256 on the host") {
				t.Errorf("mismatch: exit %d: %s", rc, msg)
			}
			wantOnly(t, dir)

			// A link at the destination, or a directory: exit 8, the
			// link and its target untouched.
			dir = t.TempDir()
			victim := filepath.Join(t.TempDir(), "victim")
			write(t, victim, "victim\n", 0o644)
			os.Symlink(victim, filepath.Join(dir, "dst.conf"))
			src = filepath.Join(dir, ".dst.conf.fleetclaim.abc")
			write(t, src, content, 0o600)
			if msg, rc := place(src, "", dir, want); rc != 8 {
				t.Errorf("link at the destination: exit %d: %s", rc, msg)
			}
			wantFile(t, victim, "victim\n", 0o644)
			if l, err := os.Readlink(filepath.Join(dir, "dst.conf")); err != nil || l != victim {
				t.Errorf("the link became %q %v", l, err)
			}
			wantOnly(t, dir, "dst.conf")
			dir = t.TempDir()
			os.Mkdir(filepath.Join(dir, "dst.conf"), 0o755)
			write(t, src, content, 0o600)
			src = filepath.Join(dir, ".dst.conf.fleetclaim.abc")
			write(t, src, content, 0o600)
			if msg, rc := place(src, "", dir, want); rc != 8 {
				t.Errorf("directory at the destination: exit %d: %s", rc, msg)
			}
			wantOnly(t, dir, "dst.conf")

			// A link at the temporary name (put there by whoever owns the
			// directory): exit 8, its target's mode untouched.
			dir = t.TempDir()
			write(t, victim, content, 0o644)
			src = filepath.Join(dir, ".dst.conf.fleetclaim.abc")
			os.Symlink(victim, src)
			if msg, rc := place(src, "", dir, want); rc != 8 {
				t.Errorf("link at the temporary name: exit %d: %s", rc, msg)
			}
			wantFile(t, victim, content, 0o644)
		})
	}
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Lstat(p)
	if string(b) != content || st.Mode() != mode {
		t.Errorf("%s: %q mode %v, want %q mode %v", p, b, st.Mode(), content, mode)
	}
}

// wantOnly fails when dir holds other names than names.
func wantOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
