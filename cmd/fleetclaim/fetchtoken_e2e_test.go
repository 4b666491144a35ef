package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestE2EFetchClaimTokenRotatesLast: --fetch-claim-token rotates the Space's
// claim token (which invalidates it for everyone else) only once every
// check of the run has passed. A run refused for a missing identity file, a
// missing sudo password, an unwritable results or debug file, a missing
// SSH password or passphrase source leaves the lab Cloud's token as it
// was; plan never rotates. Then a run that passes
// its checks rotates it.
func TestE2EFetchClaimTokenRotatesLast(t *testing.T) {
	info := startLab(t, 2)
	inv := filepath.Join(info.Dir, "inventory.yml")
	host := info.Hosts[0].Name
	before, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	noDir := filepath.Join(t.TempDir(), "no-such-dir")
	base := []string{"-i", inv, "--limit", host, "--fetch-claim-token", "--no-progress", "--no-history", "--wait", "3s"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"identity file", []string{"--set", "identity_files=" + filepath.Join(noDir, "id_ed25519")}, "identity file"},
		{"sudo password", []string{"--set", "become=sudo", "--set", "sudo_password_env=FLEETCLAIM_NO_SUCH_PASSWORD"}, "FLEETCLAIM_NO_SUCH_PASSWORD"},
		{"results file", []string{"--results", filepath.Join(noDir, "results.jsonl")}, "results file"},
		{"debug file", []string{"--debug-file", filepath.Join(noDir, "debug.log")}, "debug file"},
		{"password file", []string{"--password-file", filepath.Join(noDir, "pw")}, "--password-file"},
		{"passphrase file", []string{"--passphrase-file", filepath.Join(noDir, "pp")}, "--passphrase-file"},
		{"passphrase env", []string{"--passphrase-env", "FLEETCLAIM_NO_SUCH_PASSPHRASE"}, "FLEETCLAIM_NO_SUCH_PASSPHRASE"},
	} {
		r := fleetclaim(t, nil, append(append([]string{"claim"}, base...), tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d naming %q\n%s", tc.name, r.code, exitUsage, tc.want, r.stderr)
		}
		if strings.Contains(r.stderr, "rotates the claim token") {
			t.Errorf("%s: the refused run warned of a rotation:\n%s", tc.name, r.stderr)
		}
		if now, _ := info.Token(); now != before {
			t.Fatalf("%s: a run refused with exit %d rotated the Space's claim token", tc.name, r.code)
		}
	}
	r := fleetclaim(t, nil, append([]string{"plan"}, base...)...)
	if r.code != exitUsage {
		t.Errorf("plan --fetch-claim-token: exit %d\n%s", r.code, r.stderr)
	}
	if now, _ := info.Token(); now != before {
		t.Fatal("plan rotated the Space's claim token")
	}
	// Every check passes: the token is rotated, and the host claimed with it.
	r = fleetclaim(t, nil, append([]string{"claim"}, base...)...)
	after, _ := info.Token()
	if r.code != exitOK || after == before || !strings.Contains(r.stderr, "rotates the claim token") {
		t.Errorf("claim --fetch-claim-token: exit %d, token rotated %v\n%s%s", r.code, after != before, r.stdout, r.stderr)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, after) {
			t.Errorf("the fetched token in the output:\n%s", out)
		}
	}
}
