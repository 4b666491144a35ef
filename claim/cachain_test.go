package claim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/remote"
)

// TestWriteCAChain runs writeCAChain's script in the shells fleetclaim meets
// and checks, for each state cloud.d can be in, what it prints, what ends up
// in cloud_fullchain.pem and that an unchanged chain is left untouched.
func TestWriteCAChain(t *testing.T) {
	pem := "-----BEGIN CERTIFICATE-----\nMIIB$(x)`y`'q'\\n\r\n-----END CERTIFICATE-----\n"
	other := strings.Replace(pem, "MIIB", "MIIC", 1)
	big := strings.Repeat(pem, caCompareMax/len(pem)+1)
	cases := []struct {
		name   string
		ca     string
		before func(t *testing.T, final string) // the state of cloud.d
		want   string                           // ca=..., or "error"
	}{
		{"absent", pem, func(*testing.T, string) {}, "written"},
		{"same", pem, func(t *testing.T, f string) { write(t, f, pem, 0o644) }, "unchanged"},
		{"same without the last newline", pem, func(t *testing.T, f string) { write(t, f, strings.TrimSuffix(pem, "\n"), 0o644) }, "unchanged"},
		{"different", pem, func(t *testing.T, f string) { write(t, f, other, 0o644) }, "written"},
		{"longer", pem, func(t *testing.T, f string) { write(t, f, pem+other, 0o644) }, "written"},
		{"empty", pem, func(t *testing.T, f string) { write(t, f, "", 0o644) }, "written"},
		{"a link to the same contents", pem, func(t *testing.T, f string) {
			write(t, f+".target", pem, 0o644)
			if err := os.Symlink(f+".target", f); err != nil {
				t.Fatal(err)
			}
		}, "written"},
		// mv would move the chain into it: refused.
		{"a directory", pem, func(t *testing.T, f string) { os.Mkdir(f, 0o755) }, "error"},
		{"a link to a directory", pem, func(t *testing.T, f string) {
			os.Mkdir(f+".d", 0o755)
			if err := os.Symlink(f+".d", f); err != nil {
				t.Fatal(err)
			}
		}, "error"},
		{"a large bundle, the same", big, func(t *testing.T, f string) { write(t, f, big, 0o644) }, "written"},
	}
	for _, sh := range []string{"dash", "bash", "busybox"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		for _, c := range cases {
			t.Run(sh+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "cloud d")
				os.Mkdir(dir, 0o700)
				final := filepath.Join(dir, "cloud_fullchain.pem")
				c.before(t, final)
				st0, _ := os.Lstat(final)
				var b strings.Builder
				b.WriteString(scriptPreamble + "fail() { echo \"fleetclaim-error=$1\"; exit 0; }\n")
				q := &remote.Quoter{}
				writeCAChain(&b, "FC_EOF_1", []byte(c.ca), q.Q(dir))
				args := []string{"-c", b.String()}
				if sh == "busybox" {
					args = append([]string{"sh"}, args...)
				}
				out, err := exec.Command(sh, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				kv := parseKV(out)
				if c.want == "error" {
					if kv["fleetclaim-error"] != "write-ca" || kv["ca"] != "" {
						t.Fatalf("printed %q, want fleetclaim-error=write-ca", out)
					}
					if st, err := os.Stat(final); err != nil || !st.IsDir() {
						t.Fatalf("cloud_fullchain.pem changed: %v %v", st, err)
					}
					if left, _ := os.ReadDir(final); len(left) > 0 {
						t.Fatalf("written into the directory: %v", left)
					}
					return
				}
				if kv["ca"] != c.want || kv["fleetclaim-error"] != "" {
					t.Fatalf("printed %q, want ca=%s", out, c.want)
				}
				st, err := os.Lstat(final)
				if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o644 {
					t.Fatalf("cloud_fullchain.pem: %v %v", st, err)
				}
				got, _ := os.ReadFile(final)
				if c.want == "written" && string(got) != c.ca {
					t.Fatalf("contents %q, want %q", got, c.ca)
				}
				if c.want == "unchanged" && (!os.SameFile(st0, st) || !st.ModTime().Equal(st0.ModTime())) {
					t.Fatal("an unchanged chain was rewritten")
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".cloud_fullchain.pem.fleetclaim.*")); len(left) > 0 {
					t.Fatalf("temporary file left: %v", left)
				}
				if bytes.Contains(out, []byte("MIIB")) {
					t.Fatalf("the script printed the chain: %q", out)
				}
			})
		}
	}
}

// TestWriteCAChainFileSizeLimit: under a file size limit (the lab's
// disk-full) the builtin write fails like a full disk's, and the script
// reports it and removes its temporary file instead of dying.
func TestWriteCAChainFileSizeLimit(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		dir := t.TempDir()
		var b strings.Builder
		b.WriteString("ulimit -f 0\n" + scriptPreamble + "fail() { echo \"fleetclaim-error=$1\"; rm -f \"${catmp:-}\"; exit 0; }\n")
		q := &remote.Quoter{}
		writeCAChain(&b, "FC_EOF_1", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), q.Q(dir))
		out, err := exec.Command(sh, "-c", b.String()).CombinedOutput()
		if err != nil || parseKV(out)["fleetclaim-error"] != "write-ca" {
			t.Fatalf("%s: %v, printed %q", sh, err, out)
		}
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Fatalf("%s: left %v", sh, left)
		}
	}
}

func write(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}
