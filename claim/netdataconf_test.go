package claim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/remote"
)

// runProxy runs claimconf.sh in dir (the config dir) with proxy for
// netdata.conf, claim.conf's text conf and netdatacli true.
func runProxy(t *testing.T, dir, proxy string) remote.Result {
	t.Helper()
	in := &remote.Install{ConfigDir: dir, VarLibDir: filepath.Join(dir, "lib"), RunAsUser: "root", CLI: "true"}
	script, args, err := buildClaimConfScript(claimConfSpec{In: in, Conf: "[global]\n", CloudProxy: proxy})
	if err != nil {
		t.Fatal(err)
	}
	res, err := remote.RunScript(context.Background(), remote.Local{}, script, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCloudProxyInNetdataConf(t *testing.T) {
	debian, err := os.ReadFile("../remote/testdata/probe/debian12-netdata-1.37.1-netdata.conf")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, before, proxy string
		want                []string // in this order
		absent              []string
	}{
		{"no cloud section (Debian's own file)", string(debian), "http://proxy.example:3128",
			[]string{"run as user = netdata", "[cloud]\n    proxy = http://proxy.example:3128\n"}, nil},
		{"replace the section's proxy only", "[global]\n    proxy = keep-me\n[cloud]\n    # proxy = env\n    proxy = none\n    insecure = no\n[web]\n    mode = static-threaded\n", "env",
			[]string{"[global]\n    proxy = keep-me\n", "[cloud]\n    # proxy = env\n    proxy = env\n    insecure = no\n[web]\n"}, []string{"proxy = none"}},
		{"section without proxy", "[cloud]\n    enabled = yes\n[web]\n", "none",
			[]string{"[cloud]\n    enabled = yes\n    proxy = none\n[web]\n"}, nil},
		// A backslash reaches the file as it is (a proxy with credentials
		// never does: TestClaimConfProxyCredentialsNotInNetdataConf).
		{"cloud section last", "[web]\n    mode = none\n[cloud]\n", `http://p\w.example:1`,
			[]string{"[cloud]\n    proxy = http://p\\w.example:1\n"}, nil},
		{"no netdata.conf at all", "", "socks5h://10.0.0.1:1080",
			[]string{"[cloud]\n    proxy = socks5h://10.0.0.1:1080\n"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			nc := filepath.Join(dir, "netdata.conf")
			if c.before != "" {
				if err := os.WriteFile(nc, []byte(c.before), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			res := runProxy(t, dir, c.proxy)
			if !strings.Contains(string(res.Stdout), "cloud-proxy=1") {
				t.Fatalf("snippet failed: %s %s", res.Stdout, res.Stderr)
			}
			got, _ := os.ReadFile(nc)
			rest := string(got)
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("netdata.conf lacks %q (in order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range c.absent {
				if strings.Contains(string(got), a) {
					t.Fatalf("netdata.conf still has %q:\n%s", a, got)
				}
			}
			if c.before != "" {
				// Every line of the old file survives but the replaced proxy.
				for _, l := range strings.Split(c.before, "\n") {
					if l != "" && !strings.Contains(string(got), l) && !strings.Contains(l, "proxy = none") {
						t.Fatalf("line %q lost", l)
					}
				}
				st, _ := os.Stat(nc)
				if st.Mode().Perm() != 0o640 {
					t.Fatalf("mode changed to %v", st.Mode().Perm())
				}
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".netdata.conf.fleetclaim.*"))
			if len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
	in := &remote.Install{ConfigDir: t.TempDir(), CLI: "true"}
	if _, _, err := buildClaimConfScript(claimConfSpec{In: in, Conf: "[global]\n", CloudProxy: "http://a\n[global]"}); err == nil {
		t.Fatal("a proxy with a line break was accepted")
	}
}

// TestAgentOwnedClaimConf: where the agent's user owns its files (macOS),
// claim.conf is written 0600 for that user, not root:group 0640.
func TestAgentOwnedClaimConf(t *testing.T) {
	me := currentUser(t)
	dir := t.TempDir()
	in := &remote.Install{ConfigDir: dir, VarLibDir: filepath.Join(dir, "lib"), RunAsUser: me, CLI: "true"}
	script, args, err := buildClaimConfScript(claimConfSpec{In: in, Conf: "[global]\n    token = x\n", AgentOwned: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := remote.RunScript(context.Background(), remote.Local{}, script, args...)
	if err != nil || !strings.Contains(string(res.Stdout), "written=1") {
		t.Fatalf("%v %s %s", err, res.Stdout, res.Stderr)
	}
	st, err := os.Stat(filepath.Join(dir, "claim.conf"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("claim.conf: %v %v", st, err)
	}
}

// TestProbeFindsMacOSLayouts: the probe finds the macOS kickstart build and
// Homebrew layouts by their paths (run here with /bin/sh on fixture roots,
// not on macOS).
func TestProbeFindsMacOSLayouts(t *testing.T) {
	for layout, dirs := range map[string][3]string{
		"macos":    {"usr/local/netdata/etc/netdata", "usr/local/netdata/usr/sbin", "usr/local/netdata/var/lib/netdata"},
		"homebrew": {"opt/homebrew/etc/netdata", "opt/homebrew/sbin", "opt/homebrew/var/lib/netdata"},
		"local":    {"usr/local/etc/netdata", "usr/local/sbin", "usr/local/var/lib/netdata"},
	} {
		root := t.TempDir()
		for _, d := range dirs {
			os.MkdirAll(filepath.Join(root, d), 0o755)
		}
		bin := filepath.Join(root, dirs[1])
		os.WriteFile(filepath.Join(bin, "netdata"), []byte("#!/bin/sh\necho 'netdata v2.6.0'\n"), 0o755)
		os.WriteFile(filepath.Join(bin, "netdatacli"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
		os.WriteFile(filepath.Join(root, dirs[0], "netdata.conf"), []byte("[global]\n    run as user = _netdata\n"), 0o644)
		f, err := remote.Probe(context.Background(), remote.Local{}, root)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Installs) != 1 || f.Installs[0].Layout != layout || f.Installs[0].RunAsUser != "_netdata" ||
			f.Installs[0].ConfigDir != filepath.Join(root, dirs[0]) || f.Installs[0].CLI != filepath.Join(bin, "netdatacli") {
			t.Fatalf("%s: %+v", layout, f.Installs)
		}
	}
}
