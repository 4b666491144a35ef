package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeV2NoBuildinfo: from v2.0.0 on Netdata has no build option
// without Cloud (CMakeLists.txt:1448 at v2.0.0 builds the ACLK always;
// v1.47.5's CMakeLists.txt:150 was the last ENABLE_ACLK option), so the
// probe of a v2 agent whose install type leaves the build in doubt (the
// static archive's own .install-type says 'custom') takes its Cloud
// support from the version and does not run `netdata -W buildinfo`,
// which costs a real v2.11.0 binary ~140 ms of CPU on every host.
func TestProbeV2NoBuildinfo(t *testing.T) {
	for _, c := range []struct {
		version   string
		buildinfo bool
	}{{"netdata v2.11.0", false}, {"netdata v1.47.5", true}} {
		root := fixtureRoot(t, "custom")
		mark := filepath.Join(t.TempDir(), "buildinfo-ran")
		bin := "#!/bin/sh\ncase \"$1\" in -v) echo '" + c.version + "';; -W) : > " + mark + "; echo '    Netdata Cloud:              YES';; esac\n"
		if err := os.WriteFile(filepath.Join(root, "opt/netdata/bin/netdata"), []byte(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd, err := ProbeCommand(ProbeOptions{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(cmd, "exec "), "sh "))
		for i, a := range args {
			args[i] = strings.Trim(a, "'")
		}
		x := exec.Command("sh", args...)
		x.Stdin = strings.NewReader(ProbeScript())
		out, err := x.Output()
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseProbe(out)
		if err != nil || len(f.Installs) != 1 {
			t.Fatalf("%v: %+v\n%s", err, f, out)
		}
		in := f.Installs[0]
		_, ranErr := os.Stat(mark)
		if ran := ranErr == nil; ran != c.buildinfo || in.CloudSupport != "yes" {
			t.Errorf("%s: buildinfo ran %v (want %v), cloud support %q (want yes)", c.version, ran, c.buildinfo, in.CloudSupport)
		}
	}
}
