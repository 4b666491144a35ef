package inventory

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLoad loads data as an inventory of the given format in a fresh
// directory; it must either succeed or return an Errors value, never panic.
func fuzzLoad(t *testing.T, name, format string, data []byte) {
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := testOpts()
	opts.Format = format
	opts.MaxHosts = 2000
	inv, err := Load(p, opts)
	if err != nil {
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
		}
		return
	}
	for _, h := range inv.Hosts {
		if h.Name == "" || h.Port < 1 || h.Port > 65535 {
			t.Fatalf("bad host %+v", h)
		}
		_ = h.View()
	}
	if len(inv.Hosts) > 0 {
		_, _ = inv.Select("all:!"+inv.Hosts[0].Name, "1/2")
	}
}

// fuzzPartsWhole: a native inventory read in parts reads as its whole
// tree does.
func fuzzPartsWhole(t *testing.T, data []byte) {
	p := filepath.Join(t.TempDir(), "inv.yml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	samePartsWhole(t, p)
}

func seedFiles(f *testing.F, patterns ...string) {
	for _, pat := range patterns {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
}

func FuzzLoadNative(f *testing.F) {
	seedFiles(f, "testdata/native/*.yml", "testdata/native-ssh/*.yml", "../examples/*.yml")
	f.Add([]byte("groups:\n  a: {children: [b]}\n  b: {children: [a]}\n"))
	f.Add([]byte("hosts:\n  \"h[1:3]\": {address: \"[::1]:22\", rooms: a,b}\n"))
	f.Add([]byte("defaults: &d {user: x}\nhosts: {h: *d}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 || strings.Count(string(data), "[") > 8 {
			return // keep range expansion and YAML aliases small
		}
		fuzzLoad(t, "inv.yml", "native", data)
		fuzzPartsWhole(t, data)
	})
}

func FuzzLoadAnsibleINI(f *testing.F) {
	seedFiles(f, "testdata/ansible-ini/*.ini", "../examples/ansible/*.ini")
	f.Add([]byte("[a:children]\nb\n[b:children]\na\n"))
	f.Add([]byte("h ansible_host=\"x y\" netdata_claim_rooms=[1,2]\n[g:vars]\nk = 'v'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 || strings.Count(string(data), "[") > 16 {
			return
		}
		fuzzLoad(t, "hosts.ini", "ansible-ini", data)
	})
}

func FuzzLoadAnsibleYAML(f *testing.F) {
	seedFiles(f, "testdata/ansible-yaml/*.yml")
	f.Add([]byte("all:\n  children:\n    a: {hosts: {x: {ansible_port: 22}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 || strings.Count(string(data), "[") > 8 {
			return
		}
		fuzzLoad(t, "hosts.yml", "ansible-yaml", data)
	})
}

func FuzzExpandRange(f *testing.F) {
	for _, s := range []string{"web[01:20].example.com", "10.0.1.[10:40]", "r[a:c]n[1:4]", "h[0:10:2]", "[2001:db8::1]:22", "h[1:", "x]y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ExpandRange(s, 1000)
		if err != nil {
			return
		}
		if len(out) == 0 || len(out) > 1000 {
			t.Fatalf("%q expanded to %d names", s, len(out))
		}
		if !HasRange(s) && (len(out) != 1 || out[0] != s) {
			t.Fatalf("%q without a range changed: %v", s, out)
		}
	})
}

func FuzzLimit(f *testing.F) {
	for _, s := range []string{"web", "db:&pg", "all:!lab-00*", "~^db0[12]", "web,db", "!web", "lab-[0", "&", "*"} {
		f.Add(s, "1/2")
	}
	inv, err := Load("testdata/native/lab.yml", testOpts())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, limit, shard string) {
		if strings.Contains(limit, "@") {
			return // no reading arbitrary files
		}
		hs, err := inv.Select(limit, shard)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is not Errors: %v", err)
			}
			return
		}
		if len(hs) == 0 || len(hs) > len(inv.Hosts) {
			t.Fatalf("selected %d hosts", len(hs))
		}
	})
}

func FuzzParseJump(f *testing.F) {
	for _, s := range []string{"ops@bastion:2200,10.0.0.1", "none", "[::1]:22", "a@b@c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := parseJump(s)
		if err != nil {
			return
		}
		for _, e := range j {
			if e.Address == "" || e.Port < 1 || e.Port > 65535 {
				t.Fatalf("%q: bad hop %+v", s, e)
			}
		}
	})
}

func FuzzGlobMatcher(f *testing.F) {
	f.Add("h*7.example.com", "h0000017.example.com")
	f.Add("a*b?c*", "aXXbYcZ")
	f.Fuzz(func(t *testing.T, pat, name string) {
		want, err := path.Match(pat, name)
		if err != nil {
			return
		}
		if got := globMatcher(pat)(name); got != want {
			t.Fatalf("globMatcher(%q)(%q) = %v, path.Match %v", pat, name, got, want)
		}
	})
}
