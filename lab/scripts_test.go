package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabScripts: the lab's shell files (the docker stand-in its docker
// hosts run, make demo's script) parse with sh -n in dash, bash and
// busybox and pass shellcheck, and a stand-in says none of the message
// table's words on its own (TestLabSaysOnlyTableRows checks the Go files).
func TestLabScripts(t *testing.T) {
	files, _ := filepath.Glob("*.sh")
	if len(files) < 2 {
		t.Fatalf("scripts: %v", files)
	}
	for _, argv := range [][]string{{"dash"}, {"bash"}, {"busybox", "sh"}} {
		if _, err := exec.LookPath(argv[0]); err != nil {
			if os.Getenv("CI") == "true" {
				t.Errorf("%s is not installed, and CI (.ci/run) installs it", argv[0])
			}
			continue
		}
		for _, f := range files {
			if out, err := exec.Command(argv[0], append(argv[1:], "-n", f)...).CombinedOutput(); err != nil {
				t.Errorf("%v -n %s: %v\n%s", argv, f, err, out)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgMarkers() {
			if f != "demo.sh" && strings.Contains(string(b), m) {
				t.Errorf("%s holds %q, a message of the table's", f, m)
			}
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("no shellcheck")
	}
	for _, f := range files {
		if out, err := exec.Command("shellcheck", "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
}
