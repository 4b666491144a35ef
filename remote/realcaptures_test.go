package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeReadsRealBuildinfo runs the probe over a host whose netdata
// binary prints the real `netdata -W buildinfo` of Debian 12's 1.37.1
// package (testdata/probe/debian12-netdata-1.37.1-buildinfo.txt): the
// probe's own filter and the parser must find it built without Cloud
// ("Netdata Cloud: NO (by user request)", "ACLK: NO").
func TestProbeReadsRealBuildinfo(t *testing.T) {
	capture, err := filepath.Abs("testdata/probe/debian12-netdata-1.37.1-buildinfo.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	version, _, _ := strings.Cut(string(b), "\n") // "Version: netdata v1.37.1"
	root := t.TempDir()
	for _, d := range []string{"etc/netdata", "usr/sbin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := "#!/bin/sh\ncase \"$1\" in -v) echo '" + strings.TrimPrefix(version, "Version: ") + "' ;; -W) cat '" + capture + "' ;; esac\n"
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/netdata"), []byte(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", probeScript, "probe", root, "").Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	f, err := ParseProbe(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Installs) == 0 {
		t.Fatalf("no install found:\n%s", out)
	}
	in := f.Installs[0]
	if in.Version != "1.37.1" || in.CloudSupport != "no" {
		t.Errorf("version %q, cloud support %q; want 1.37.1, no\n%s", in.Version, in.CloudSupport, out)
	}
}
