package sshdtest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestHarness checks that a server starts and OpenSSH's own client logs in
// as every test user.
func TestHarness(t *testing.T) {
	e := New(t)
	s := e.Start(t, Options{Name: "smoke"})
	kh := e.WriteKnownHosts(t, true, s.KnownHostsLine(t, "ed25519"))
	for _, u := range []string{"root", UserSudo, UserNoSudo, UserTTY} {
		out, err := exec.Command("ssh", "-F", "none", "-i", e.Key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=yes", "-p", strconv.Itoa(s.Port),
			u+"@"+s.Host, "id -un").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != u {
			t.Errorf("ssh as %s: %v: %s", u, err, out)
		}
	}
}
