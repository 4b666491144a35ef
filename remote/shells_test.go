package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installedByCI reports whether .ci/run installs shell n (dash and bash come
// with every Debian machine): under CI it must be there.
func installedByCI(n string) bool {
	switch n {
	case "dash", "bash", "busybox", "mksh", "posh", "yash":
		return true
	}
	return false
}

// testShells returns the paths of the named shells this machine has and logs
// which run and which are missing. Under CI (CI=true), a missing shell that
// .ci/run installs fails the test: a test that says it runs in every shell
// must not pass having run in fewer.
func testShells(t testing.TB, names ...string) []string {
	t.Helper()
	var found, missing, same []string
	real := map[string]string{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			missing = append(missing, n)
			if installedByCI(n) && os.Getenv("CI") == "true" {
				t.Errorf("shell %s is not installed, and CI (.ci/run) installs it", n)
			}
			continue
		}
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			r = p
		}
		if other, dup := real[r]; dup { // ksh is often mksh
			same = append(same, n+" (is "+other+")")
			continue
		}
		real[r] = n
		found = append(found, p)
	}
	t.Logf("shells run: %s; missing (skipped): %s; the same as another: %s", orNone(found), orNone(missing), orNone(same))
	if len(found) == 0 {
		t.Skip("none of the shells is installed")
	}
	return found
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// shellCommand runs script with sh -c, the arguments after it being $0, $1…
// (busybox is a multi-call binary: its shell is "busybox sh").
func shellCommand(sh, script string, args ...string) *exec.Cmd {
	a := []string{"-c", script}
	if filepath.Base(sh) == "busybox" {
		a = append([]string{"sh"}, a...)
	}
	return exec.Command(sh, append(a, args...)...)
}

// stdinScript runs the script on the command's stdin with sh, its
// positional parameters being args: "sh -s -- args", the way the probe runs
// on a host. posh (0.14) has no -s: it reads the script as /dev/stdin.
func stdinScript(sh string, args ...string) *exec.Cmd {
	var a []string
	switch filepath.Base(sh) {
	case "busybox":
		a = []string{"sh", "-s", "--"}
	case "posh":
		a = []string{"/dev/stdin"}
	default:
		a = []string{"-s", "--"}
	}
	return exec.Command(sh, append(a, args...)...)
}
