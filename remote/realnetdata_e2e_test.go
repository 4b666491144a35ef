package remote_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// TestE2ERealNetdataPackage runs the real fleetclaim binary over real sshd
// against the real Debian netdata package installed on this machine (CI
// installs netdata-core, built without Cloud; 1.37.1 on bookworm). The
// version it must report is the package's, read with dpkg-query, not
// assumed. No netdata_prefix: the
// probe finds the agent where the package put it, and fleetclaim must say
// it cannot be claimed, with the version, run-as user and paths it read.
// (It lives here rather than in cmd/fleetclaim because only package remote
// may use the sshd harness.)
func TestE2ERealNetdataPackage(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/netdata"); err != nil {
		t.Skip("the netdata package is not installed")
	}
	version := debianUpstreamVersion(t, "netdata-core")
	env := sshdtest.New(t)
	srv := env.Start(t, sshdtest.Options{Name: "realnetdata"})
	srv2 := env.Start(t, sshdtest.Options{Name: "realnetdata-plain"})
	dir := t.TempDir()
	bin := filepath.Join(dir, "fleetclaim")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/fleetclaim").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	kh := env.WriteKnownHosts(t, false, srv.KnownHostsLine(t, "ed25519"), srv2.KnownHostsLine(t, "ed25519"))
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("real-netdata-test-token\n"), 0o600)
	inv := filepath.Join(dir, "inventory.yml")
	os.WriteFile(inv, []byte(fmt.Sprintf(`defaults:
  identity_files: [%s]
  known_hosts: [%s]
  url: https://app.netdata.cloud
  token_file: %s
groups:
  real:
    rooms: [3b0d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11]
    hosts:
      with-sudo: {address: %s, port: %d, user: %s, become: sudo}
      plain: {address: %s, port: %d, user: %s}
`, env.Key, kh, tok, srv.Host, srv.Port, sshdtest.UserSudo, srv2.Host, srv2.Port, sshdtest.UserNoSudo)), 0o644)

	for _, cmd := range []string{"claim", "facts"} {
		args := []string{cmd, "-i", inv, "--output", "json"}
		x := exec.Command(bin, args...)
		x.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
		var out, errb bytes.Buffer
		x.Stdout, x.Stderr = &out, &errb
		err := x.Run()
		if cmd == "claim" {
			if err == nil {
				t.Fatalf("claim of an agent built without Cloud exited 0\n%s", out.String())
			}
			var recs []struct {
				Host, Status, Category, Message, Remedy string
				AgentVersion                            string `json:"agent_version"`
				RunAsUser                               string `json:"run_as_user"`
				InstallType                             string `json:"install_type"`
			}
			if err := json.Unmarshal(out.Bytes(), &recs); err != nil {
				t.Fatalf("claim output: %v\n%s\n%s", err, out.String(), errb.String())
			}
			if len(recs) != 2 {
				t.Fatalf("%d records", len(recs))
			}
			for _, r := range recs {
				if r.Status != "failed" || r.Category != "unsupported-install" || r.AgentVersion != version || r.RunAsUser != "netdata" ||
					!strings.Contains(r.Message, "/usr/sbin/netdata") || !strings.Contains(r.Message, "/etc/netdata") ||
					!strings.Contains(r.Message, "/var/lib/netdata") || !strings.Contains(r.Remedy, "kickstart") {
					t.Errorf("%s: %+v (the package is version %s)", r.Host, r, version)
				}
			}
			continue
		}
		if err != nil {
			t.Fatalf("facts: %v\n%s", err, errb.String())
		}
		var facts []struct {
			Host  string `json:"host"`
			Facts struct {
				Installs []struct {
					Layout       string `json:"layout"`
					Version      string `json:"version"`
					CloudSupport string `json:"cloud_support"`
					ConfigDir    string `json:"config_dir"`
				} `json:"installs"`
			} `json:"facts"`
		}
		if err := json.Unmarshal(out.Bytes(), &facts); err != nil {
			t.Fatalf("facts output: %v\n%s", err, out.String())
		}
		for _, f := range facts {
			if len(f.Facts.Installs) == 0 || f.Facts.Installs[0].Version != version || f.Facts.Installs[0].CloudSupport != "no" || f.Facts.Installs[0].ConfigDir != "/etc/netdata" {
				t.Errorf("%s facts: %+v (the package is version %s)", f.Host, f.Facts, version)
			}
		}
	}
}

// debianUpstreamVersion returns the upstream version of an installed Debian
// package, as the program itself reports it: dpkg-query's version without
// the epoch ("1:"), the Debian revision ("-2") and a repack suffix
// ("+dfsg1", "~bpo12").
func debianUpstreamVersion(t *testing.T, pkg string) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		if os.Getenv("CI") == "true" { // .ci/run installs it
			t.Fatalf("%s is not installed (dpkg-query: %v), and CI installs it", pkg, err)
		}
		t.Skipf("%s is not installed as a Debian package (dpkg-query: %v)", pkg, err)
	}
	v := strings.TrimSpace(string(out))
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	if v == "" {
		t.Fatalf("dpkg-query gave %s the version %q", pkg, out)
	}
	t.Logf("%s is version %s (dpkg-query: %s)", pkg, v, out)
	return v
}
