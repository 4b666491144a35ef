package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFiles writes name → content under dir; a name ending in "*" is made
// executable (the star dropped).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// hostLine is what these tests compare of a host.
func hostLine(h *Host) string {
	groups := slices.Clone(h.Groups)
	slices.Sort(groups)
	return h.Name + " " + h.Address + ":" + itoa(h.Port) + " " + h.User + " [" + strings.Join(groups, ",") + "]"
}

func hostLines(inv *Inventory) []string {
	out := make([]string, len(inv.Hosts))
	for i, h := range inv.Hosts {
		out[i] = hostLine(h)
	}
	slices.Sort(out)
	return out
}

func loadOK(t *testing.T, sources ...string) *Inventory {
	t.Helper()
	inv, err := LoadSources(context.Background(), sources, testOpts())
	if err != nil {
		t.Fatalf("load %v: %v", sources, err)
	}
	return inv
}

func loadErr(t *testing.T, opts LoadOptions, sources ...string) string {
	t.Helper()
	_, err := LoadSources(context.Background(), sources, opts)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("load %v: want Errors, got %v", sources, err)
	}
	return err.Error()
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("hosts:\n got %q\nwant %q", got, want)
	}
}

const scriptWithMeta = `#!/bin/sh
case "$1" in
--list) cat <<'EOF'
{"web": {"hosts": ["w1", "w2"], "vars": {"ansible_user": "deploy"}, "children": ["canary"]},
 "canary": ["w3"],
 "db": {"hosts": ["d1"]},
 "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}, "d1": {"ansible_port": 2222, "ansible_user": "pg"},
   "stray": {"ansible_user": "x"}}}}
EOF
;;
--host) echo "called --host" >&2; exit 9;;
esac
`

func TestLoadScriptWithMeta(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inv.sh*": scriptWithMeta})
	inv := loadOK(t, filepath.Join(dir, "inv.sh"))
	wantLines(t, hostLines(inv),
		"w1 10.0.0.1:22 deploy [web]", "w2 w2:22 deploy [web]", "w3 w3:22 deploy [canary,web]", "d1 d1:2222 pg [db]")
	if inv.Format != "script" {
		t.Errorf("format %q", inv.Format)
	}
}

func TestLoadScriptHostCalls(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	writeFiles(t, dir, map[string]string{"inv*": `#!/bin/sh
echo "$*" >> ` + log + `
case "$1" in
--list) echo '{"web": ["w1", "w2"], "all": {"vars": {"ansible_user": "ops"}}}';;
--host) case "$2" in w1) echo '{"ansible_host": "10.0.0.9", "ansible_port": 2200}';; *) echo '{}';; esac;;
esac
`})
	inv := loadOK(t, filepath.Join(dir, "inv"))
	wantLines(t, hostLines(inv), "w1 10.0.0.9:2200 ops [web]", "w2 w2:22 ops [web]")
	calls, _ := os.ReadFile(log)
	if got := strings.Fields(strings.ReplaceAll(string(calls), "\n", " ")); !slices.Equal(got, []string{"--list", "--host", "w1", "--host", "w2"}) {
		t.Errorf("calls %q", got)
	}
}

func TestLoadScriptFailureCarriesStderrAndStatus(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inv*": "#!/bin/sh\nprintf 'cannot reach the API\\033[31m\\n' >&2\nexit 3\n"})
	msg := loadErr(t, testOpts(), filepath.Join(dir, "inv"))
	for _, want := range []string{"inv --list: inventory script exited with status 3", "stderr: cannot reach the API\\u001b[31m"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\033") {
		t.Errorf("raw escape byte in the error: %q", msg)
	}
}

func TestLoadScriptTimeoutKillsItsChildren(t *testing.T) {
	dir := t.TempDir()
	// The script's own child keeps stdout open: only killing the process
	// group lets the load end.
	writeFiles(t, dir, map[string]string{"inv*": "#!/bin/sh\necho started >&2\nsleep 600 &\nsleep 600\n"})
	opts := testOpts()
	opts.ScriptTimeout = 300 * time.Millisecond
	done := make(chan string, 1)
	go func() { done <- loadErr(t, opts, filepath.Join(dir, "inv")) }()
	select {
	case msg := <-done:
		if !strings.Contains(msg, "did not finish within 300ms and was killed; stderr: started") {
			t.Errorf("error: %s", msg)
		}
	case <-time.After(time.Minute):
		t.Fatal("load still waiting a minute after the script's timeout")
	}
}

func TestLoadScriptBadJSONNamesLine(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inv*": "#!/bin/sh\nprintf '{\"web\": {\\n \"hosts\": \"w1\"}}\\n'\n"})
	msg := loadErr(t, testOpts(), filepath.Join(dir, "inv"))
	if !strings.Contains(msg, "inv --list:2:11: web.hosts: want a list of host names, got a string") {
		t.Errorf("error: %s", msg)
	}
	writeFiles(t, dir, map[string]string{"inv2*": "#!/bin/sh\nprintf '{\"web\": [\\n\"w1\",]}'\n"})
	msg = loadErr(t, testOpts(), filepath.Join(dir, "inv2"))
	if !strings.Contains(msg, "inv2 --list:2: JSON: invalid character ']'") {
		t.Errorf("error: %s", msg)
	}
}

// TestLoadExecutableNotAProgram: an INI file with its execute bit set is
// read as a file, as Ansible ends up reading it; forced to be a script, it
// is an error saying why.
func TestLoadExecutableNotAProgram(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hosts*": "[web]\nw1\n"})
	inv := loadOK(t, filepath.Join(dir, "hosts"))
	wantLines(t, hostLines(inv), "w1 w1:22 tester [web]")
	opts := testOpts()
	opts.Format = "script"
	if msg := loadErr(t, opts, filepath.Join(dir, "hosts")); !strings.Contains(msg, "hosts --list: not a program the system can run (no #! line)") {
		t.Errorf("error: %s", msg)
	}
}

func TestLoadShebangNotExecutable(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inv.py": "#!/usr/bin/env python3\nprint('{}')\n"})
	msg := loadErr(t, testOpts(), filepath.Join(dir, "inv.py"))
	if !strings.Contains(msg, "inv.py:1:1: starts with #! like an inventory script, but is not executable") {
		t.Errorf("error: %s", msg)
	}
}

// TestLoadSeveralSources: groups merge, and for one host or group the later
// source's variables win, as with several -i options in Ansible.
func TestLoadSeveralSources(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"inv.sh*": scriptWithMeta,
		"more.ini": `[web]
w2 ansible_host=10.0.0.2
w1 ansible_port=2201
[db:vars]
ansible_user=dba
[extra]
x1 ansible_user=bob
`,
		"last.yml": "all:\n  hosts:\n    x1:\n      ansible_user: carol\n",
	})
	inv := loadOK(t, filepath.Join(dir, "inv.sh"), filepath.Join(dir, "more.ini"), filepath.Join(dir, "last.yml"))
	wantLines(t, hostLines(inv),
		"w1 10.0.0.1:2201 deploy [web]", "w2 10.0.0.2:22 deploy [web]", "w3 w3:22 deploy [canary,web]",
		"d1 d1:2222 pg [db]", "x1 x1:22 carol [extra]")
	if inv.Format != "script+ansible-ini+ansible-yaml" {
		t.Errorf("format %q", inv.Format)
	}
	// In the other order the script's host variables win.
	inv = loadOK(t, filepath.Join(dir, "more.ini"), filepath.Join(dir, "inv.sh"))
	if h := host(inv, "d1"); h == nil || h.User != "pg" {
		t.Errorf("d1 = %v", h)
	}
}

func TestLoadInventoryDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"inv/01-static":            "[web]\nw1 ansible_user=a\nw2\n",
		"inv/02-more.yml":          "all:\n  children:\n    db:\n      hosts:\n        d1:\n          ansible_port: 2222\n",
		"inv/03-dyn.sh*":           "#!/bin/sh\necho '{\"web\": [\"w3\"], \"_meta\": {\"hostvars\": {\"w1\": {\"ansible_user\": \"b\"}}}}'\n",
		"inv/sub/04-deep":          "deep1\n",
		"inv/ignored.ini":          "[web]\nignored-ini\n",
		"inv/README.md":            "# not an inventory\n",
		"inv/old.bak":              "bak1\n",
		"inv/.hidden":              "hidden1\n",
		"inv/group_vars/web.yml":   "ansible_user: fromgv\n",
		"inv/host_vars/w2.yml":     "ansible_port: 2202\n",
		"inv/group_vars/all/a.yml": "netdata_claim_rooms: [r1]\n",
	})
	inv := loadOK(t, filepath.Join(dir, "inv"))
	// w1 keeps "a": as in Ansible, a script's hostvars count only for the
	// hosts of its own groups, and w1 is not in 03-dyn.sh's.
	wantLines(t, hostLines(inv),
		"w1 w1:22 a [web]", "w2 w2:2202 fromgv [web]", "w3 w3:22 fromgv [web]", "d1 d1:2222 tester [db]", "deep1 deep1:22 tester [ungrouped]")
	if h := host(inv, "d1"); h == nil || !slices.Equal(h.Claim.Rooms, []string{"r1"}) {
		t.Errorf("d1 rooms from group_vars/all/a.yml: %v", h)
	}
}

func TestLoadPSSHHostFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hosts.txt": `# pssh hosts
alice@web1.example.com:2222
web2.example.com   # trailing comment
10.0.0.5 bob
`})
	inv := loadOK(t, filepath.Join(dir, "hosts.txt"))
	wantLines(t, hostLines(inv),
		"web1.example.com:2222 web1.example.com:2222 alice [ungrouped]", "web2.example.com web2.example.com:22 tester [ungrouped]",
		"10.0.0.5 10.0.0.5:22 bob [ungrouped]")
	if inv.Format != "pssh" {
		t.Errorf("format %q", inv.Format)
	}
	writeFiles(t, dir, map[string]string{"bad": "ok@h1\nu@h2 v\n"})
	opts := testOpts()
	opts.Format = "pssh"
	if msg := loadErr(t, opts, filepath.Join(dir, "bad")); !strings.Contains(msg, `bad:2:6: user: user given twice ("u" and "v")`) {
		t.Errorf("error: %s", msg)
	}
}

func TestLoadHostList(t *testing.T) {
	inv := loadOK(t, "h1,alice.example.com:2222,")
	wantLines(t, hostLines(inv), "h1 h1:22 tester [ungrouped]", "alice.example.com:2222 alice.example.com:2222 tester [ungrouped]")
}

func TestLoadMissingSource(t *testing.T) {
	msg := loadErr(t, testOpts(), "testdata/ansible-ini/hosts.ini", "no-such-inventory")
	if !strings.Contains(msg, "no-such-inventory: cannot read inventory: no such file or directory") {
		t.Errorf("error: %s", msg)
	}
}

// host finds a host by name.
func host(inv *Inventory, name string) *Host {
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}
