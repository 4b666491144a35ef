package agenttest

import (
	"os"
	"strings"
	"testing"
)

// TestV2HostsAreApart starts two real v2 agents side by side: each answers
// on its own pipe, with its own machine GUID, and neither sees the other's
// files nor the machine's Debian package.
func TestV2HostsAreApart(t *testing.T) {
	a := NewV2(t, V2Options{Name: "a"})
	b := NewV2(t, V2Options{Name: "b"})
	ga, err := os.ReadFile(a.Lib("registry", "netdata.public.unique.id"))
	if err != nil {
		t.Fatal(err)
	}
	gb, err := os.ReadFile(b.Lib("registry", "netdata.public.unique.id"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ga) == 0 || string(ga) == string(gb) {
		t.Fatalf("machine GUIDs %q and %q", ga, gb)
	}
	for _, h := range []*Host{a, b} {
		out := h.Run(t, h.CLI, "aclk-state", "json")
		other := gb
		if h == b {
			other = ga
		}
		if out.Code != 0 || strings.Contains(out.Stdout, string(other)) {
			t.Errorf("%s: aclk-state json exit %d: %s", h.Name, out.Code, out.Stdout)
		}
		if out := h.Run(t, "test", "-x", "/usr/sbin/netdata"); out.Code == 0 {
			t.Errorf("%s: the Debian package's binary is visible", h.Name)
		}
	}
}

// TestStripGuards cuts exactly the two guard blocks out of the installed
// v1 script, and the copy differs from it in nothing else.
func TestStripGuards(t *testing.T) {
	RequireV1(t)
	orig, _ := os.ReadFile("/usr/sbin/netdata-claim.sh")
	got := StrippedClaimScript(t)
	if n := strings.Count(string(orig), "\n") - strings.Count(string(got), "\n"); n != 8 {
		t.Fatalf("%d lines removed, want 8", n)
	}
	if strings.Contains(string(got), "cannot be claimed") || !strings.Contains(string(got), "openssl genrsa") {
		t.Fatal("guards left or script damaged")
	}
}

// TestV1HostHasOwnTmp: a v1 host does not see the machine's /tmp (where
// Debian's netdatacli finds the machine's agent, /tmp/netdata-ipc), but
// sees the directories it shares, at their own paths.
func TestV1HostHasOwnTmp(t *testing.T) {
	RequireV1(t)
	shared := t.TempDir()
	os.Chmod(shared, 0o755)
	hidden, err := os.CreateTemp("/tmp", "fleetclaim-machine-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	hidden.Close()
	defer os.Remove(hidden.Name())
	os.WriteFile(shared+"/seen", []byte("x"), 0o644)
	h := NewV1(t, V1Options{Name: "tmp", Share: []string{shared}})
	if out := h.Run(t, "test", "-e", hidden.Name()); out.Code == 0 {
		t.Errorf("the host sees the machine's %s", hidden.Name())
	}
	if out := h.Run(t, "test", "-f", shared+"/seen"); out.Code != 0 && strings.HasPrefix(shared, "/tmp/") {
		t.Errorf("the host does not see the shared %s", shared)
	}
}
