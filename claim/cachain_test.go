package claim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
		// A link in cloud.d (the agent's user's) is refused, by name.
		{"a link to the same contents", pem, func(t *testing.T, f string) {
			write(t, f+".target", pem, 0o644)
			if err := os.Symlink(f+".target", f); err != nil {
				t.Fatal(err)
			}
		}, "unsafe"},
		// mv would move the chain into it: refused.
		{"a directory", pem, func(t *testing.T, f string) { os.Mkdir(f, 0o755) }, "error"},
		{"a link to a directory", pem, func(t *testing.T, f string) {
			os.Mkdir(f+".d", 0o755)
			if err := os.Symlink(f+".d", f); err != nil {
				t.Fatal(err)
			}
		}, "unsafe"},
		{"a large bundle, the same", big, func(t *testing.T, f string) { write(t, f, big, 0o644) }, "written"},
	}
	for sh, argv := range testShells(t) {
		for _, c := range cases {
			t.Run(sh+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "cloud d")
				os.Mkdir(dir, 0o700)
				conf := t.TempDir()
				final := filepath.Join(dir, "cloud_fullchain.pem")
				c.before(t, final)
				st0, _ := os.Lstat(final)
				script := libSnippet(t, `am_root; write_ca "$1" "$2" "" cloud_fullchain.pem`+"\n", caInputs([]byte(c.ca))...)
				out := runIn(t, argv, script, nil, dir, conf)
				kv := parseKV(out)
				if c.want == "unsafe" {
					if kv["fleetclaim-error"] != "unsafe-path" || kv["fleetclaim-path"] != final || kv["ca"] != "" {
						t.Fatalf("printed %q, want fleetclaim-error=unsafe-path naming %s", out, final)
					}
					if st, err := os.Lstat(final); err != nil || st.Mode()&os.ModeSymlink == 0 {
						t.Fatalf("the link was changed: %v %v", st, err)
					}
					if got, _ := os.ReadFile(final + ".target"); c.name == "a link to the same contents" && string(got) != pem {
						t.Fatalf("written through the link: %q", got)
					}
					return
				}
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
				for _, d := range []string{dir, conf} {
					if left, _ := filepath.Glob(filepath.Join(d, ".*")); len(left) > 0 {
						t.Fatalf("temporary file left: %v", left)
					}
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
	for sh, argv := range testShells(t) {
		dir, conf := t.TempDir(), t.TempDir()
		script := "ulimit -f 0\n" + libSnippet(t, `am_root; write_ca "$1" "$2" "" trusted.pem`+"\n", caInputs([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))...)
		out, err := shellC(argv, script, dir, conf).CombinedOutput()
		if err != nil || parseKV(out)["fleetclaim-error"] != "write-ca" {
			t.Fatalf("%s: %v, printed %q", sh, err, out)
		}
		for _, d := range []string{dir, conf} {
			if left, _ := os.ReadDir(d); len(left) > 0 {
				t.Fatalf("%s: left %v", sh, left)
			}
		}
	}
}

func write(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

// TestPutFileDirSwappedForALink: the agent's user, who owns the var lib
// dir, swaps cloud.d for a link to a directory of its choice between the
// script's checks and its rename (an mv stand-in does it at the last
// moment, deterministically). Root's file still lands in the directory
// that was checked, never in the link's target.
func TestPutFileDirSwappedForALink(t *testing.T) {
	realMv, err := exec.LookPath("mv")
	if err != nil {
		t.Skip("no mv")
	}
	realLn, err := exec.LookPath("ln")
	if err != nil {
		t.Skip("no ln")
	}
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	for sh, argv := range testShells(t) {
		t.Run(sh, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cloud d")
			os.Mkdir(dir, 0o700)
			victim, conf, wrap := t.TempDir(), t.TempDir(), t.TempDir()
			write(t, filepath.Join(wrap, "mv"), "#!/bin/sh\n"+
				"if [ ! -h \"$SWAP\" ]; then "+realMv+" \"$SWAP\" \"$SWAP.real\" && "+realLn+" -s \"$VICTIM\" \"$SWAP\"; fi\n"+
				"exec "+realMv+" \"$@\"\n", 0o755)
			env := []string{"PATH=" + wrap + ":" + os.Getenv("PATH"), "SWAP=" + dir, "VICTIM=" + victim}
			script := libSnippet(t, `am_root; write_ca "$1" "$2" "" cloud_fullchain.pem`+"\n", caInputs([]byte(pem))...)
			out := runIn(t, argv, script, env, dir, conf)
			if st, err := os.Lstat(dir); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("the stand-in did not swap cloud.d (%v %v): the test proves nothing", st, err)
			}
			if left, _ := os.ReadDir(victim); len(left) > 0 {
				t.Fatalf("written through the swapped-in link: %v (printed %q)", left, out)
			}
			kv := parseKV(out)
			if got, _ := os.ReadFile(filepath.Join(dir+".real", "cloud_fullchain.pem")); kv["ca"] != "written" || string(got) != pem {
				t.Errorf("printed %q; the checked directory holds %q", out, got)
			}
		})
	}
}
