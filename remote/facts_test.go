package remote

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestParseProbeGolden parses probe outputs captured on real systems and
// compares the facts with golden JSON files.
func TestParseProbeGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/probe/*-probe.txt")
	more, _ := filepath.Glob("testdata/probe/*-package.txt")
	inputs = append(inputs, more...)
	if len(inputs) == 0 {
		t.Fatal("no probe captures in testdata/probe")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseProbe(b)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(f, "", "  ")
			golden := strings.TrimSuffix(in, ".txt") + ".golden.json"
			if *update {
				os.WriteFile(golden, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
				t.Errorf("facts differ from %s:\n%s", golden, got)
			}
		})
	}
}

func TestParseProbeDebianPackage(t *testing.T) {
	b, err := os.ReadFile("testdata/probe/debian12-netdata-1.37.1-distro-package.txt")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseProbe(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.OS.ID != "debian" || f.OS.VersionID != "12" || len(f.Installs) != 1 {
		t.Fatalf("facts: %+v", f)
	}
	in := f.Installs[0]
	if in.Layout != "native" || in.Version != "1.37.1" || in.CloudSupport != "no" || in.RunAsUser != "netdata" ||
		in.InstallType != "" || in.ClaimGeneration != 1 || in.CLI != "/usr/sbin/netdatacli" || in.VarLibDir != "/var/lib/netdata" {
		t.Fatalf("install: %+v", in)
	}
}

func TestParseProbeRejects(t *testing.T) {
	cases := map[string]string{
		"empty":                         "",
		"no end":                        "fleetclaim-probe=1\nuid=0\n",
		"unknown key":                   "fleetclaim-probe=1\nuid=0\nbogus=1\nend=1\n",
		"not key=value":                 "fleetclaim-probe=1\nuid=0\nhello\nend=1\n",
		"install field outside install": "fleetclaim-probe=1\nuid=0\ni.cli=/x\nend=1\n",
		"bad uid":                       "fleetclaim-probe=1\nuid=root\nend=1\n",
		"after end":                     "fleetclaim-probe=1\nuid=0\nend=1\nuid=1\n",
		"huge":                          "fleetclaim-probe=1\n" + strings.Repeat("tool=x\n", 60000) + "end=1\n",
		"bad cloud.d":                   "fleetclaim-probe=1\nuid=0\ninstall=static\ni.cloudd=maybe\nend=1\n",
	}
	for name, in := range cases {
		if _, err := ParseProbe([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A login banner before the header is skipped.
	f, err := ParseProbe([]byte("Welcome to host!\nfleetclaim-probe=1\nuid=1000\nuser=alice\nend=1\n"))
	if err != nil || f.User != "alice" || f.Root() {
		t.Fatalf("banner: %+v %v", f, err)
	}
}

// TestProbeRunsHere runs the real probe script with /bin/sh on this machine
// and parses it.
func TestProbeRunsHere(t *testing.T) {
	f, err := Probe(context.Background(), Local{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if f.Kernel == "" || f.Arch == "" || f.UID != os.Getuid() {
		t.Fatalf("facts: %+v", f)
	}
	if len(f.Installs) != 0 {
		t.Fatalf("an empty root has installs: %+v", f.Installs)
	}
}

// TestProbeRealDistroPackage runs the probe against the real system when
// Debian's netdata package is installed (CI installs it).
func TestProbeRealDistroPackage(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/netdata"); err != nil {
		t.Skip("Debian's netdata package is not installed")
	}
	f, err := Probe(context.Background(), Local{}, "")
	if err != nil {
		t.Fatal(err)
	}
	var in *Install
	for i := range f.Installs {
		if f.Installs[i].Layout == "native" {
			in = &f.Installs[i]
		}
	}
	if in == nil || in.Binary != "/usr/sbin/netdata" || in.Version == "" {
		t.Fatalf("native install not found: %+v", f.Installs)
	}
}

func FuzzParseProbe(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/probe/*.txt")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("fleetclaim-probe=1\nuid=0\ninstall=static\ni.conf=[web]\ni.conf=default port = 99999\nend=1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fa, err := ParseProbe(b)
		if err == nil && fa == nil {
			t.Fatal("nil facts without error")
		}
	})
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"")
	f.Add("ID='alpine'\nPRETTY_NAME=\"Alpine \\\"Linux\\\" v3.19\"")
	f.Fuzz(func(t *testing.T, s string) {
		ParseOSRelease(strings.Split(s, "\n"))
	})
}
