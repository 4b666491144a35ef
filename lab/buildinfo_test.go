package lab

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBuildInfoColonsIsTheRealOne: an old agent's `netdata -W buildinfo`
// in the lab is the real 1.37.1 report, byte for byte for a build without
// Cloud; where Debian's netdata 1.37.1 is installed, its own output is the
// oracle. A build with Cloud differs in the three lines buildinfo.c prints
// differently, nothing else.
func TestBuildInfoColonsIsTheRealOne(t *testing.T) {
	nocloud := buildInfoColons("v1.37.1", false)
	if out, err := exec.Command("/usr/sbin/netdata", "-W", "buildinfo").Output(); err == nil && strings.HasPrefix(string(out), "Version: netdata v1.37.1\n") {
		if string(out) != nocloud {
			t.Fatalf("the lab's report differs from the real agent's:\nlab:\n%s\nreal:\n%s", nocloud, out)
		}
	} else {
		t.Logf("no real netdata 1.37.1 here (%v): compared with the capture only", err)
	}
	withCloud := buildInfoColons("v1.30.0", true)
	a, b := strings.Split(nocloud, "\n"), strings.Split(withCloud, "\n")
	if len(a) != len(b) {
		t.Fatalf("%d lines without Cloud, %d with", len(a), len(b))
	}
	var differ []string
	for i := range a {
		if a[i] != b[i] {
			differ = append(differ, b[i])
		}
	}
	if len(differ) != 4 || differ[0] != "Version: netdata v1.30.0" || strings.Contains(differ[1], "--disable-cloud") ||
		differ[2] != "    Netdata Cloud:              YES " || differ[3] != "    ACLK:                       YES" {
		t.Errorf("lines that differ with Cloud: %q", differ)
	}
}
