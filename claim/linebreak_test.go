package claim

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// TestClaimConfRefusesLineBreaks: a line feed in any value of claim.conf
// writes a line of its own, such as a second url (the agent reads the file
// with fgets: src/libnetdata/inicfg/inicfg_conf_file.c:188, v2.11.0); a
// carriage return stays inside the value, which it corrupts, and is a line
// end to other readers of the file. Either way the host is refused with
// invalid-value, and nothing is written.
func TestClaimConfRefusesLineBreaks(t *testing.T) {
	me := currentUser(t)
	for _, brk := range []string{"\n", "\r", "\r\n"} {
		for _, field := range []string{"url", "proxy", "room", "token"} {
			t.Run(field+"/"+map[string]string{"\n": "LF", "\r": "CR", "\r\n": "CRLF"}[brk], func(t *testing.T) {
				root := fakeInstall(t, me)
				h := testHost(root, "")
				token := "good-token"
				injected := brk + "    url = https://attacker.example"
				switch field {
				case "url":
					h.Claim.URL += injected
				case "proxy":
					h.Claim.Proxy = inventory.NewProxy("http://proxy:3128" + injected)
				case "room":
					h.Claim.Rooms = []string{h.Claim.Rooms[0] + injected}
				case "token":
					token += injected
				}
				res := New(localConnector{}, Options{Token: tokenOf(token)}).Do(context.Background(), h)
				if res.Status != StatusFailed || res.Category != "invalid-value" {
					t.Fatalf("%+v", res)
				}
				if _, err := os.Stat(filepath.Join(root, "opt/netdata/etc/netdata/claim.conf")); err == nil {
					t.Fatal("claim.conf was written despite the line break")
				}
			})
		}
	}
}
