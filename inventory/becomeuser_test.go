package inventory

import (
	"strings"
	"testing"
)

// TestBecomeUser: become_user (Ansible's ansible_become_user) reaches the
// host, and a value sudo -u would misread, or a shell would interpret, is
// refused with its file, line and field.
func TestBecomeUser(t *testing.T) {
	inv, err := loadString(t, "hosts.ini", "[web]\nh1 ansible_host=127.0.0.1 ansible_user=ops ansible_become=true ansible_become_user=netdata\n", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := inv.Hosts[0]
	if h.Become != "sudo" || h.BecomeUser != "netdata" || h.User != "ops" {
		t.Fatalf("become %q as %q, login %q; want sudo as netdata, login ops", h.Become, h.BecomeUser, h.User)
	}
	for _, bad := range []string{"1000", "-u root", "net$(id)", "a b", "x;y", strings.Repeat("a", 33)} {
		_, err := loadString(t, "inv.yml", "defaults:\n  become: sudo\n  become_user: '"+bad+"'\n", LoadOptions{})
		if err == nil {
			t.Errorf("become_user %q accepted", bad)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "inv.yml:3:") || !strings.Contains(msg, "become_user") {
			t.Errorf("become_user %q: error %q does not name the file, line and field", bad, msg)
		}
	}
	for _, good := range []string{"netdata", "root", "svc-netdata", "a.b_c", "u1"} {
		if _, err := loadString(t, "inv.yml", "defaults:\n  become: sudo\n  become_user: "+good+"\n", LoadOptions{}); err != nil {
			t.Errorf("become_user %q refused: %v", good, err)
		}
	}
}
