package inventory

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDefaultIdentityFiles: a host given no identity file (by the
// inventory or ssh_config) gets OpenSSH's defaults that exist in
// ~/.ssh, in OpenSSH's order; a host given one keeps only its own.
// Where ssh is installed, its `ssh -G` is the oracle for the list.
func TestDefaultIdentityFiles(t *testing.T) {
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	os.Mkdir(sshDir, 0o700)
	for _, f := range []string{"id_ed25519", "id_rsa", "id_ed25519.pub", "config"} {
		if err := os.WriteFile(filepath.Join(sshDir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{filepath.Join(sshDir, "id_rsa"), filepath.Join(sshDir, "id_ed25519")}
	if ssh, err := exec.LookPath("ssh"); err == nil {
		out, err := exec.Command(ssh, "-G", "-F", "/dev/null", "example.com").Output()
		if err != nil {
			t.Fatalf("ssh -G: %v", err)
		}
		var oracle []string
		for _, l := range strings.Split(string(out), "\n") {
			if f, ok := strings.CutPrefix(l, "identityfile ~/"); ok {
				if p := filepath.Join(home, f); fileExists(p) {
					oracle = append(oracle, p)
				}
			}
		}
		if !slices.Equal(oracle, want) {
			t.Fatalf("ssh -G's defaults present in %s are %v; the test expects %v", sshDir, oracle, want)
		}
	}
	opts := testOpts()
	opts.Home = home
	inv, err := loadString(t, "inv.yml", "hosts:\n  a: {}\n  b: {identity_files: [/keys/b]}\n", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := hostNamed(t, inv, "a").IdentityFiles; !slices.Equal(got, want) {
		t.Errorf("a: identity files %v, want OpenSSH's defaults %v", got, want)
	}
	if got := hostNamed(t, inv, "b").IdentityFiles; !slices.Equal(got, []string{"/keys/b"}) {
		t.Errorf("b: identity files %v, want its own only", got)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
