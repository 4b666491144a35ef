package inventory

import (
	"testing"
)

// testOpts are LoadOptions independent of the machine running the tests.
func testOpts() LoadOptions {
	return LoadOptions{
		SSHConfig: "none",
		Home:      "/home/tester",
		User:      "tester",
		LookupEnv: func(k string) (string, bool) {
			if k == "NETDATA_CLAIM_TOKEN" {
				return "tok", true
			}
			return "", false
		},
	}
}

func TestLoadLabExample(t *testing.T) {
	inv, err := Load("testdata/native/lab.yml", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(inv.Hosts); got != 9 {
		t.Fatalf("hosts = %d, want 9", got)
	}
	h := inv.Hosts[0]
	if h.Name != "lab-001" || h.Address != "127.0.0.1" || h.Port != 40123 || h.User != "alice" {
		t.Errorf("lab-001 = %+v", h)
	}
	if len(h.Claim.Rooms) != 2 || h.Claim.NetdataPrefix != "/srv/lab/hosts/lab-001" {
		t.Errorf("lab-001 claim = %+v", h.Claim)
	}
	sel, err := inv.Select("db:&pg", "")
	if err != nil || len(sel) != 2 {
		t.Fatalf("select db:&pg = %d hosts, %v", len(sel), err)
	}
	if err := inv.CheckSecrets(inv.Hosts); err != nil {
		t.Fatal(err)
	}
}
