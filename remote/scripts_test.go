package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestScriptsLint: every script remote runs on a host (*.sh, embedded)
// parses with sh -n in dash, bash and busybox and passes shellcheck.
func TestScriptsLint(t *testing.T) {
	files, _ := filepath.Glob("*.sh")
	for _, want := range []string{"probe.sh", "upload-stage.sh", "upload-place.sh"} {
		if !contains(files, want) {
			t.Fatalf("scripts %v: no %s", files, want)
		}
	}
	for _, sh := range testShells(t, "dash", "bash", "busybox") {
		for _, f := range files {
			a := []string{"-n", f}
			if filepath.Base(sh) == "busybox" {
				a = append([]string{"sh"}, a...)
			}
			if out, err := exec.Command(sh, a...).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, f, err, out)
			}
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no shellcheck, and CI (.ci/run) installs it")
		}
		t.Skip("no shellcheck")
	}
	for _, f := range files {
		if out, err := exec.Command("shellcheck", "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
