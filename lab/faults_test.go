package lab

import (
	"os"
	"strings"
	"testing"
)

// TestHostFaults checks the faults injected into a host's own commands and
// connections: each shows where a client would see it, and only there.
func TestHostFaults(t *testing.T) {
	l := startLab(t, 4, "v2+flaky=1,v2+disk-full=1,v2+no-sudo=1")
	info := l.Info()
	with := func(f Fault) HostInfo {
		for _, h := range info.Hosts {
			if h.Personality.Has(f) {
				return h
			}
		}
		t.Fatalf("no host with %s", f)
		return HostInfo{}
	}
	t.Run("flaky", func(t *testing.T) {
		h := with(FaultFlaky)
		if c, err := dialErr(info, h.Name); err == nil {
			c.Close()
			t.Fatal("the first connection to a flaky host worked")
		}
		c := dial(t, info, h.Name) // the second one works
		if out, _, code := run(t, c, "echo ok", ""); code != 0 || out != "ok\n" {
			t.Fatalf("second connection: %d %q", code, out)
		}
	})
	t.Run("disk-full", func(t *testing.T) {
		h := with(FaultDiskFull)
		c := dial(t, info, h.Name)
		// Through sh -s, as fleetclaim sends its scripts: the write fails,
		// the file is left empty, and reading still works.
		_, _, code := run(t, c, "sh -s", "printf 'hello\\n' > written.txt && echo wrote\n")
		if code == 0 {
			t.Fatal("a write succeeded on a full disk")
		}
		if b, err := os.ReadFile(h.Prefix + "/written.txt"); err == nil && len(b) != 0 {
			t.Fatalf("written.txt holds %q", b)
		}
		if out, _, code := run(t, c, "cat opt/netdata/etc/netdata/netdata.conf >/dev/null && echo read", ""); code != 0 || out != "read\n" {
			t.Fatalf("reading on a full disk: %d %q", code, out)
		}
	})
	t.Run("no-sudo", func(t *testing.T) {
		h := with(FaultNoSudo)
		c := dial(t, info, h.Name)
		out, errOut, code := run(t, c, "sudo -n true; echo rc=$?; id -u", "")
		if code != 0 || !strings.Contains(out, "rc=1") || !strings.Contains(errOut, "sudo: a password is required") {
			t.Fatalf("sudo on a no-sudo host: %d %q %q", code, out, errOut)
		}
		if uid := strings.TrimSpace(strings.Split(out, "\n")[1]); uid == "0" {
			t.Fatal("the login user of a no-sudo host is root")
		}
		conf, err := os.ReadFile(h.Prefix + "/opt/netdata/etc/netdata/netdata.conf")
		if err != nil || !strings.Contains(string(conf), "run as user = root") {
			t.Fatalf("netdata.conf: %v\n%s", err, conf)
		}
	})
	t.Run("healthy hosts unaffected", func(t *testing.T) {
		for _, h := range info.Hosts {
			if len(h.Personality.Faults) > 0 {
				continue
			}
			c := dial(t, info, h.Name)
			if _, _, code := run(t, c, "sh -s", "printf 'x' > ok.txt && [ -s ok.txt ]\n"); code != 0 {
				t.Fatalf("%s: exit %d", h.Name, code)
			}
		}
	})
}
