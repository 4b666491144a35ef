package remote

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fixtureRoot lays out a root with a static install whose agent binary is a
// script, so the probe can run against it anywhere.
func fixtureRoot(t testing.TB, installType string) string {
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
	shells := testShells(t, "dash", "bash", "busybox", "posh", "mksh", "yash", "ksh")
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
				// The command is "exec sh -s -- ROOT FLAGS CONTAINER"; the
				// quoted root has no spaces: pass it unquoted.
				_, params, ok := strings.Cut(cmd, " -s -- ")
				if !ok {
					t.Fatalf("probe command %q: no sh -s --", cmd)
				}
				args := strings.Split(params, " ")
				for i, a := range args {
					args[i] = strings.Trim(a, "'")
				}
				x := stdinScript(sh, args...)
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

// confShells are the POSIX shells of this machine the netdata.conf reading
// is compared in.
func confShells(t testing.TB) []string {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("no awk")
	}
	shells := testShells(t, "dash", "bash", "busybox", "posh", "mksh", "yash", "ksh")
	return shells
}

// confLines runs the probe in sh on a static install whose netdata.conf
// holds conf and returns what it printed of the file: builtins read it,
// or awk with conf-awk.
func confLines(t testing.TB, sh, root, conf string, awk bool) string {
	if err := os.WriteFile(filepath.Join(root, "opt/netdata/etc/netdata/netdata.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := ""
	if awk {
		flags = "conf-awk"
	}
	x := stdinScript(sh, root, flags, "")
	x.Stdin = strings.NewReader(ProbeScript())
	out, err := x.Output()
	if err != nil {
		t.Fatalf("%s: %v", sh, err)
	}
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "i.conf=") || strings.HasPrefix(l, "i.libdir=") || strings.HasPrefix(l, "i.varlib=") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// confSamples are netdata.conf files for the comparison: a real package's,
// the lab's, and the corners of the format.
func confSamples(t testing.TB) map[string]string {
	debian, err := os.ReadFile("testdata/probe/debian12-netdata-1.37.1-netdata.conf")
	if err != nil {
		t.Fatal(err)
	}
	long := "[global]\n" + strings.Repeat("    # history = 3600\n", 120) + "[directories]\n    lib = /srv/nd lib\n[web]\n    mode = none\n"
	return map[string]string{
		"debian 1.37.1 package": string(debian),
		"lab":                   "[global]\n    run as user = netdata\n[web]\n    default port = 19999\n    bind to = 127.0.0.1\n[cloud]\n    proxy = env\n    enabled = yes\n",
		"empty":                 "",
		"no final newline":      "[web]\nmode = none",
		"crlf":                  "[web]\r\n    mode = none\r\n[directories]\r\n    lib = /x\r\n",
		"spaced sections":       "[ directories ]\n lib = /a/b  \n[\tweb ]\n\tdefault port\t=\t29999\t\n",
		"lib per section":       "[directories]\nlib=/a\n[global]\nlib = /b\n[directories]\n\tlib\t=\t/c d\t\n[web]\nlib = /e\n",
		"comments":              "[directories]\n# lib = /z\n  ; lib = /y\n\t#lib=/w\nlib = /v # not a comment\n",
		"odd lines":             "=novalue\nlib==/x\n  = lib\n[plugin:proc:/proc/stat]\nproxy = http://u:p@h:3128\n[web] # trailing\nbind to = *\nmode = $(echo hi) `id` \\n \"q\" 'q'\n[]\n[directories\nlib = /after-open-bracket\n",
		"glob and backslash":    "[dir*]\nlib = /a\n[directories]\nlib = C:\\x\\y*?[a]\nrun as user = *\n",
		"keys with blanks":      "[global]\nrun  as user = x\n  run as user   =   nd  \nrun as user=\n",
		"exactly 100 lines":     "[directories]\n" + strings.Repeat("# x\n", 98) + "lib = /hundred\n",
		"101 lines":             "[directories]\n" + strings.Repeat("# x\n", 99) + "lib = /hundred-one\n",
		"long":                  long,
		"non-utf8":              "[web]\nmode = \xff\xfe static\n[directories]\nlib = /\xe9t\xe9\n",
	}
}

// TestProbeConfBuiltinsMatchAwk: the probe reads a netdata.conf of the usual
// length with shell builtins and a long one with awk. Both must print the
// same lines for the same file, in every shell.
func TestProbeConfBuiltinsMatchAwk(t *testing.T) {
	shells := confShells(t)
	root := fixtureRoot(t, "kickstart-static")
	var skipped []string
	for name, conf := range confSamples(t) {
		for _, sh := range shells {
			if filepath.Base(sh) == "yash" && !utf8.ValidString(conf) {
				// yash turns its input into wide characters and drops
				// text with bytes that are not UTF-8, even under LC_ALL=C.
				skipped = append(skipped, "yash/"+name)
				continue
			}
			builtins, awk := confLines(t, sh, root, conf, false), confLines(t, sh, root, conf, true)
			if builtins != awk {
				t.Errorf("%s, %s: builtins printed\n%s\nawk printed\n%s", filepath.Base(sh), name, builtins, awk)
			}
			if !strings.Contains(awk, "i.libdir=") {
				t.Errorf("%s, %s: no i.libdir line:\n%s", filepath.Base(sh), name, awk)
			}
		}
	}
	if len(skipped) > 0 {
		t.Logf("skipped: %s", strings.Join(skipped, ", "))
	}
}

// FuzzProbeConf: whatever a host's netdata.conf holds, the probe's builtin
// reading prints what awk prints (in dash, the shell of most hosts' sh).
func FuzzProbeConf(f *testing.F) {
	for _, c := range confSamples(f) {
		f.Add(c)
	}
	dash, err := exec.LookPath("dash")
	if err != nil {
		f.Skip("no dash")
	}
	root := fixtureRoot(f, "kickstart-static")
	f.Fuzz(func(t *testing.T, conf string) {
		if strings.IndexByte(conf, 0) >= 0 || strings.Count(conf, "\n") > 100 {
			t.Skip() // shells drop NUL bytes; long files go to awk either way
		}
		if b, a := confLines(t, dash, root, conf, false), confLines(t, dash, root, conf, true); b != a {
			t.Fatalf("builtins printed\n%q\nawk printed\n%q", b, a)
		}
	})
}
