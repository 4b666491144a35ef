package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabPointsToFleetlab: `fleetclaim lab ...` is no command any more; an
// old script gets one line naming fleetlab and the usage exit code.
func TestLabPointsToFleetlab(t *testing.T) {
	for _, args := range [][]string{{"lab"}, {"lab", "up", "--hosts", "2", "--dir", t.TempDir()}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
		if stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "fleetlab up") {
			t.Errorf("%q: stdout %q stderr %q, want one line naming fleetlab", args, stdout.String(), stderr.String())
		}
	}
}

// TestProductImportsNoLab: the fleetclaim binary carries no part of the lab
// (its SSH server, fake Cloud, CA): no package under lab/ is among its
// dependencies.
func TestProductImportsNoLab(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/fleetclaim/fleetclaim/lab" || strings.HasPrefix(pkg, "github.com/fleetclaim/fleetclaim/lab/") {
			t.Errorf("fleetclaim depends on %s", pkg)
		}
	}
	if !strings.Contains(string(out), "github.com/fleetclaim/fleetclaim/claim\n") {
		t.Errorf("go list -deps names no claim package: %q", out)
	}
}

// TestBuildsForWindows: with the lab gone, nothing Unix-only is left in the
// product binary outside build-tagged files, so it cross-builds for Windows.
func TestBuildsForWindows(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "fleetclaim.exe"), ".")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
}
