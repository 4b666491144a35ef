package claim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testShells are the shells every claim script is tested in, as argv
// prefixes; those missing here are skipped.
func testShells(t *testing.T) map[string][]string {
	t.Helper()
	all := map[string][]string{"dash": {"dash"}, "bash": {"bash"}, "busybox": {"busybox", "sh"}}
	for name, argv := range all {
		if _, err := exec.LookPath(argv[0]); err != nil {
			delete(all, name)
		}
	}
	if len(all) == 0 {
		t.Skip("none of dash, bash, busybox")
	}
	return all
}

// runIn runs script (given on stdin, as fleetclaim sends it) with args in
// the shell argv, with extra environment, and returns what it printed.
func runIn(t *testing.T, argv []string, script string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(argv[0], append(append(argv[1:], "-s", "--"), args...)...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return out
}

// libSnippet is lib.sh, the inputs, then snippet: a part of a script.
func libSnippet(t *testing.T, snippet string, in ...scriptInput) string {
	t.Helper()
	s, err := hostScript(snippet, in...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScriptsLint: every script fleetclaim runs on a host parses (sh -n in
// each shell) and passes shellcheck, on its own and as sent (the inputs,
// lib.sh and the script).
func TestScriptsLint(t *testing.T) {
	files, _ := filepath.Glob("*.sh")
	if len(files) < 4 {
		t.Fatalf("scripts: %v", files)
	}
	shells := testShells(t)
	for _, f := range files {
		for name, argv := range shells {
			if out, err := exec.Command(argv[0], append(argv[1:], "-n", f)...).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", name, f, err, out)
			}
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("no shellcheck")
	}
	for _, f := range files {
		// The host scripts use what lib.sh defines: SC2154 is checked on
		// what is sent, below.
		if out, err := exec.Command("shellcheck", "-s", "sh", "-e", "SC2154", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", f, err, out)
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"claimconf": claimConfScript, "claimscript": claimScriptScript} {
		in := append(caInputs([]byte("x")), scriptInput{"FC_TOKEN", "t"}, scriptInput{"FC_PROXY", ""})
		if name == "claimconf" {
			in = append(caInputs([]byte("x")), scriptInput{"FC_CONF", "c"})
		}
		s := libSnippet(t, body, in...)
		p := filepath.Join(dir, name+".sh")
		write(t, p, s, 0o644)
		if out, err := exec.Command("shellcheck", "-s", "sh", p).CombinedOutput(); err != nil {
			t.Errorf("shellcheck of %s as sent: %v\n%s", name, err, out)
		}
	}
}
