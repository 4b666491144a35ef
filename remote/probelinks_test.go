package remote

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretLine stands for a line of /etc/shadow: what a link from the agent's
// files must never bring into the facts.
const secretLine = "root:$y$j9T$Zm9vYmFy$c2VjcmV0aGFzaA:19000:0:99999:7:::"

// TestProbeDoesNotFollowAgentLinks: the probe (which may run as root)
// reads the machine GUID and the claimed id from directories the agent's
// user owns. Links there, or a linked registry or cloud.d, are not read
// through, in every shell the probe meets.
func TestProbeDoesNotFollowAgentLinks(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte(secretLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lib := func(root string) string { return filepath.Join(root, "opt/netdata/var/lib/netdata") }
	relink := func(t *testing.T, path, to string) {
		t.Helper()
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, path); err != nil {
			t.Fatal(err)
		}
	}
	// A directory standing for the agent's replacement of registry or
	// cloud.d, whose files are links to the secret.
	linkedDir := func(t *testing.T, name string) string {
		d := filepath.Join(t.TempDir(), name)
		os.Mkdir(d, 0o755)
		os.Symlink(secret, filepath.Join(d, "netdata.public.unique.id"))
		os.Symlink(secret, filepath.Join(d, "claimed_id"))
		return d
	}
	cases := map[string]func(t *testing.T, root string){
		"guid file": func(t *testing.T, root string) {
			relink(t, filepath.Join(lib(root), "registry/netdata.public.unique.id"), secret)
		},
		"claimed_id file": func(t *testing.T, root string) {
			relink(t, filepath.Join(lib(root), "cloud.d/claimed_id"), secret)
		},
		"registry directory": func(t *testing.T, root string) {
			relink(t, filepath.Join(lib(root), "registry"), linkedDir(t, "registry"))
		},
		"cloud.d directory": func(t *testing.T, root string) {
			relink(t, filepath.Join(lib(root), "cloud.d"), linkedDir(t, "cloud.d"))
		},
	}
	for _, sh := range testShells(t, "dash", "bash", "busybox") {
		for name, setup := range cases {
			t.Run(filepath.Base(sh)+"/"+name, func(t *testing.T) {
				root := fixtureRoot(t, "")
				setup(t, root)
				cmd := sh + " -s -- " + root
				if filepath.Base(sh) == "busybox" {
					cmd = sh + " sh -s -- " + root
				}
				res, err := Local{}.Run(context.Background(), cmd, strings.NewReader(probeScript))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(res.Stdout), "$y$") {
					t.Errorf("the probe printed the linked secret:\n%s", res.Stdout)
				}
				f, err := ParseProbe(res.Stdout)
				if err != nil {
					t.Fatalf("%v\n%s", err, res.Stdout)
				}
				b, _ := json.Marshal(f)
				if strings.Contains(string(b), "$y$") || strings.Contains(string(b), "j9T") {
					t.Errorf("the facts hold the linked secret: %s", b)
				}
			})
		}
	}
}

// TestParseProbeMachineIDsAreUUIDs: a machine GUID or claimed id that is
// not a UUID is refused by the parser, without repeating the value.
func TestParseProbeMachineIDsAreUUIDs(t *testing.T) {
	for _, key := range []string{"i.guid", "i.claimed_id"} {
		for _, v := range []string{secretLine, "not-a-uuid", "11111111-2222-3333-4444-55555555555", "11111111-2222-3333-4444-5555555555555", "11111111x2222-3333-4444-555555555555", "g1111111-2222-3333-4444-555555555555"} {
			out := "fleetclaim-probe=1\nuid=0\ninstall=static\n" + key + "=" + v + "\nend=1\n"
			f, err := ParseProbe([]byte(out))
			if err == nil {
				t.Errorf("%s=%q accepted: %+v", key, v, f.Installs)
				continue
			}
			if strings.Contains(err.Error(), "j9T") {
				t.Errorf("the error repeats the value: %v", err)
			}
		}
		for _, v := range []string{"11111111-2222-3333-4444-555555555555", "AAAAAAAA-2222-3333-4444-5555555555FF", ""} {
			out := "fleetclaim-probe=1\nuid=0\ninstall=static\n" + key + "=" + v + "\nend=1\n"
			if _, err := ParseProbe([]byte(out)); err != nil {
				t.Errorf("%s=%q refused: %v", key, v, err)
			}
		}
	}
}
