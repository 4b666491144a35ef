package remote

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureRoot lays out a root with a static install whose agent binary is a
// script, so the probe can run against it anywhere.
func fixtureRoot(t *testing.T, installType string) string {
	t.Helper()
	root := t.TempDir()
	nd := filepath.Join(root, "opt", "netdata")
	for _, d := range []string{"bin", "etc/netdata", "var/lib/netdata/registry", "var/lib/netdata/cloud.d"} {
		if err := os.MkdirAll(filepath.Join(nd, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"bin/netdata":              "#!/bin/sh\ncase \"$1\" in -v) echo 'netdata v1.44.3';; -W) echo '    Netdata Cloud:              YES'; echo '    ACLK:                       YES';; esac\n",
		"bin/netdatacli":           "#!/bin/sh\nexit 0\n",
		"bin/netdata-claim.sh":     "#!/bin/bash\n# v1 script\n",
		"etc/netdata/netdata.conf": "[global]\n    run as user = nd\n[web]\n    default port = 29999\n",
		"var/lib/netdata/registry/netdata.public.unique.id": "11111111-2222-3333-4444-555555555555",
		"var/lib/netdata/cloud.d/claimed_id":                "aaaaaaaa-2222-3333-4444-555555555555\n",
	}
	if installType != "" {
		files["etc/netdata/.install-type"] = "INSTALL_TYPE='" + installType + "'\n"
	}
	for p, c := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(nd, p), []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestProbeShells runs the real probe with every POSIX shell this machine
// has and checks that they all report the same facts.
func TestProbeShells(t *testing.T) {
	var shells []string
	for _, s := range []string{"dash", "bash", "busybox", "posh", "mksh", "yash", "ksh"} {
		if p, err := exec.LookPath(s); err == nil {
			shells = append(shells, p)
		}
	}
	if len(shells) == 0 {
		t.Skip("no POSIX shell found")
	}
	cases := []struct {
		itype     string
		buildinfo bool
	}{
		{"kickstart-static", false},
		{"", true},
		{"custom", true},
	}
	for _, c := range cases {
		root := fixtureRoot(t, c.itype)
		var first string
		for _, sh := range shells {
			t.Run(filepath.Base(sh)+"/"+c.itype, func(t *testing.T) {
				cmd, err := ProbeCommand(ProbeOptions{Root: root})
				if err != nil {
					t.Fatal(err)
				}
				args := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(cmd, "exec "), "sh "))
				if filepath.Base(sh) == "busybox" {
					args = append([]string{"sh"}, args...)
				}
				x := exec.Command(sh, args...)
				x.Args = append([]string{sh}, args...)
				// The quoted root has no spaces: pass it unquoted.
				for i, a := range x.Args {
					x.Args[i] = strings.Trim(a, "'")
				}
				x.Stdin = strings.NewReader(ProbeScript())
				out, err := x.Output()
				if err != nil {
					t.Fatalf("%s: %v", sh, err)
				}
				f, err := ParseProbe(out)
				if err != nil {
					t.Fatalf("%s: %v\n%s", sh, err, out)
				}
				if len(f.Installs) != 1 {
					t.Fatalf("%s: installs %+v", sh, f.Installs)
				}
				in := f.Installs[0]
				if in.Layout != "static" || in.Version != "1.44.3" || in.RunAsUser != "nd" || in.WebPort != 29999 ||
					in.MachineGUID != "11111111-2222-3333-4444-555555555555" || in.ClaimedID != "aaaaaaaa-2222-3333-4444-555555555555" ||
					in.ClaimGeneration != 1 || f.UID != os.Getuid() || f.User == "" || f.Kernel == "" {
					t.Fatalf("%s: facts %+v", sh, in)
				}
				if got := in.CloudSupport == "yes"; got != c.buildinfo {
					t.Errorf("%s: build info read = %v, want %v (install type %q)", sh, got, c.buildinfo, c.itype)
				}
				j, _ := json.Marshal(f)
				if first == "" {
					first = string(j)
				} else if string(j) != first {
					t.Errorf("%s reports other facts than %s:\n%s\n%s", sh, shells[0], j, first)
				}
			})
		}
	}
}
