package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadString writes files (name → content) into a temporary directory and
// loads the first one.
func loadString(t *testing.T, name, content string, opts LoadOptions, extra ...string) (*Inventory, error) {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(extra); i += 2 {
		p := filepath.Join(dir, extra[i])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(extra[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p, opts)
}

func diagnostics(t *testing.T, err error) Errors {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not an inventory.Errors", err, err)
	}
	return errs
}

// TestBadInput has one case per class of bad input; each wants every listed
// fragment in some diagnostic, with its line and column.
func TestBadInput(t *testing.T) {
	for _, tc := range badInputCases() {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, tc.file, tc.content, testOpts())
			if err == nil {
				t.Fatal("loaded without error")
			}
			errs := diagnostics(t, err)
			text := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("no diagnostic contains %q; got:\n%s", w, text)
				}
			}
			for _, d := range errs {
				if d.File == "" {
					t.Errorf("diagnostic without a file: %+v", d)
				}
			}
		})
	}
}

type badInputCase struct {
	name    string
	file    string
	content string
	want    []string // "LINE:COL" prefixes and message fragments
}

// badInputCases are TestBadInput's inputs, one per class of bad input.
func badInputCases() []badInputCase {
	return []badInputCase{
		{"unknown key", "inv.yml", "defaults:\n  usr: alice\n", []string{`inv.yml:2:3: defaults.usr: unknown key (did you mean "user"?)`}},
		{"unknown top key", "inv.yml", "default:\n  user: a\ngroups: {}\n", []string{`inv.yml:1:1: default: unknown top-level key (did you mean "defaults"?)`}},
		{"unknown kickstart key", "inv.yml", "defaults:\n  kickstart: {chanel: nightly}\n", []string{`inv.yml:2:15: defaults.kickstart.chanel: unknown kickstart option (did you mean "channel"?)`}},
		{"wrong type", "inv.yml", "defaults:\n  port: [22]\n  insecure: maybe\n  connect_timeout: soon\n", []string{
			"inv.yml:2:9: defaults.port: want a port number, got a list",
			`inv.yml:3:13: defaults.insecure: want true or false, got "maybe"`,
			"inv.yml:4:20: defaults.connect_timeout: want a duration"}},
		{"empty room name", "inv.yml", "groups:\n  web:\n    rooms: [\"\", 0b9d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11]\n", []string{`inv.yml:3:13: groups.web.rooms: empty room name`}},
		{"multi-line room name", "inv.yml", "groups:\n  web:\n    rooms: [\"a\\nb\"]\n", []string{`inv.yml:3:13: groups.web.rooms: room name "a\nb" must be a single line`}},
		{"inline api token", "inv.yml", "defaults:\n  api_token: secret-value\n", []string{`inv.yml:2:14: defaults.api_token: an inline API token is not allowed: set api_token_file or api_token_env`}},
		{"api token twice", "inv.yml", "defaults:\n  api_token_env: A\n  api_token_file: /x\n", []string{`inv.yml:3:19: defaults.api_token_file: conflicts with api_token_env at line 2: set only one of them`}},
		{"bad api token env", "inv.yml", "defaults:\n  api_token_env: 9x\n", []string{`inv.yml:2:18: defaults.api_token_env: "9x" is not an environment variable name`}},
		{"bad url", "inv.yml", "defaults:\n  url: ftp://cloud\n", []string{`inv.yml:2:8: defaults.url: "ftp://cloud": scheme must be https or http`}},
		{"url does not parse", "inv.yml", "defaults:\n  url: \"https://[::1\"\n", []string{"inv.yml:2:8: defaults.url:", "missing ']'"}},
		{"bad proxy", "inv.yml", "defaults:\n  proxy: ftp://p:3128\n", []string{"inv.yml:2:10: defaults.proxy: want none, env or a proxy URL"}},
		{"bad enum", "inv.yml", "defaults:\n  become: sudoo\n", []string{`inv.yml:2:11: defaults.become: want one of none|sudo|doas, got "sudoo" (did you mean "sudo"?)`}},
		{"unknown child", "inv.yml", "groups:\n  db:\n    children: [pgg]\n  pg: {}\n", []string{`inv.yml:3:16: groups.db.children: unknown group "pgg" (did you mean "pg"?)`}},
		{"cycle", "inv.yml", "groups:\n  a: {children: [b]}\n  b: {children: [c]}\n  c: {children: [a]}\n", []string{"inv.yml:4:18: groups.c.children: cycle in children: a -> b -> c -> a"}},
		{"duplicate address", "inv.yml", "groups:\n  web:\n    proxy: env\n    hosts:\n      one: {address: 10.0.0.1}\nhosts:\n  two: {address: 10.0.0.1, port: 22}\n", []string{`inv.yml:7:3: two: host "two" is the same machine as host "one" (10.0.0.1 port 22) with a different proxy`}},
		{"unrelated groups", "inv.yml", "groups:\n  a: {proxy: env, hosts: {h1: {}}}\n  b: {proxy: none, hosts: {h1: {}}}\n", []string{`inv.yml:3:14: proxy: host "h1": groups "a" and "b" are unrelated and set proxy differently`}},
		{"host entries disagree", "inv.yml", "groups:\n  a: {hosts: {h1: {port: 2200}}}\nhosts:\n  h1: {port: 2201}\n", []string{`inv.yml:4:14: port: host "h1": set to 2201 here and to 2200 at`}},
		{"duplicate key", "inv.yml", "defaults:\n  user: a\n  user: b\n", []string{"inv.yml:3:3: defaults.user: duplicate key (first at line 2)"}},
		{"two token sources", "inv.yml", "defaults:\n  token_env: T\n  token_file: /t\n", []string{"inv.yml:3:15: defaults.token_file: conflicts with token_env at line 2"}},
		{"bad range", "inv.yml", "hosts:\n  web[10:01]: {}\n  db[1:x]: {}\n", []string{"inv.yml:2:3: hosts: range \"web[10:01]\"", "start is after end", "inv.yml:3:3: hosts: range \"db[1:x]\""}},
		{"nul escape", "inv.yml", "defaults:\n  user: \"al\\0ice\"\n", []string{"inv.yml:2:9: defaults.user: value contains a NUL byte"}},
		{"nul byte", "inv.yml", "defaults:\n  user: alice\n  hostname: a\x00b\n", []string{"inv.yml:3:14: NUL byte in inventory"}},
		{"relative prefix", "inv.yml", "defaults:\n  netdata_prefix: opt/netdata\n", []string{"inv.yml:2:19: defaults.netdata_prefix: must be an absolute path on the host"}},
		{"static and native", "inv.yml", "defaults:\n  kickstart: {static_only: true, native_only: true}\nhosts: {h: {}}\n", []string{"inv.yml:2:47: kickstart.native_only: kickstart static_only and native_only exclude each other"}},
		{"yaml syntax", "inv.yml", "defaults:\n  user: [a\n", []string{"inv.yml:1: YAML: did not find expected"}},
		{"ansible unknown var", "hosts.ini", "[web]\nw1 netdata_claim_room=0b9d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11\n", []string{`hosts.ini:2:4: web.w1.netdata_claim_room: unknown fleetclaim variable (did you mean "netdata_claim_rooms"?)`}},
		{"ansible bad section", "hosts.ini", "[web:varz]\nx=1\n[db]\nd1 ansible_port=70000\n", []string{`hosts.ini:1:1: web: unknown section kind "varz" (did you mean "vars"?)`, "hosts.ini:4:17: db.d1.ansible_port: want a port number 1-65535"}},
		{"ansible unknown child", "hosts.yml", "all:\n  children:\n    web:\n      hostz: {}\n", []string{`hosts.yml:4:7: web.hostz: unknown group key (did you mean "hosts"?)`}},
		{"ansible template", "hosts.ini", "[web]\nw1 ansible_host=\"{{ lookup('env','IP') }}\"\n", []string{"hosts.ini:2:17: web.w1.ansible_host: Jinja2 templates are not evaluated"}},
	}
}

// TestAllErrorsInOnePass: every problem of a file is reported by one Load.
func TestAllErrorsInOnePass(t *testing.T) {
	content := `defaults:
  usr: alice
  url: ftp://x
groups:
  web:
    rooms: [""]
    children: [ghost]
    hosts:
      w1: {port: 0}
`
	_, err := loadString(t, "inv.yml", content, testOpts())
	errs := diagnostics(t, err)
	if len(errs) != 5 {
		t.Fatalf("got %d diagnostics, want 5:\n%v", len(errs), err)
	}
}

func TestOverrideErrors(t *testing.T) {
	opts := testOpts()
	opts.Overrides = []string{"prxy=env", "rooms=[\"\"]", "noequals", "api_token=x"}
	_, err := loadString(t, "inv.yml", "hosts: {h: {}}\n", opts)
	text := err.Error()
	for _, w := range []string{`--set: prxy: unknown key (did you mean "proxy"?)`, `rooms: empty room name`, "--set: noequals: want key=value", "--set: api_token: an inline API token is not allowed"} {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in:\n%s", w, text)
		}
	}
}

func TestSelectErrors(t *testing.T) {
	inv, err := Load("testdata/native/lab.yml", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, shard, want string }{
		{"wbe", "", `--limit: wbe: unknown host or group (did you mean "web"?)`},
		{"web:&db", "", `empty selection: --limit "web:&db" selects no host`},
		{"", "5/4", "--shard: 5/4: want K/N"},
		{"lab-001", "2/2", "empty selection"},
		{"~(", "", "bad regular expression"},
	} {
		_, err := inv.Select(tc.limit, tc.shard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Select(%q, %q) = %v, want %q", tc.limit, tc.shard, err, tc.want)
			continue
		}
		diagnostics(t, err)
	}
	dir := t.TempDir()
	retry := filepath.Join(dir, "retry")
	os.WriteFile(retry, []byte("lab-001\n# comment\nlab-009\n"), 0o644)
	_, err = inv.Select("@"+retry, "")
	if err == nil || !strings.Contains(err.Error(), retry+":3: lab-009: unknown host or group") {
		t.Errorf("retry file error = %v", err)
	}
}

func TestCheckSecrets(t *testing.T) {
	content := `defaults:
  token_env: MISSING_TOKEN
  identity_files: [keys/nope]
  known_hosts: [keys/known_hosts]
groups:
  db:
    token_file: keys/token
    become: sudo
    sudo_password_env: SUDO_PW
    hosts: {db1: {}, db2: {}}
hosts:
  w1: {}
`
	inv, err := loadString(t, "inv.yml", content, testOpts(), "keys/known_hosts", "x ssh-ed25519 AAAA\n", "keys/token", "\n")
	if err != nil {
		t.Fatal(err)
	}
	err = inv.CheckSecrets(inv.Hosts)
	text := err.Error()
	diagnostics(t, err)
	for _, w := range []string{
		"inv.yml:2:14: token: claim token: environment variable MISSING_TOKEN is not set (host w1)",
		"inv.yml:3:19: identity_files: identity file:", "no such file or directory (host db1, db2, w1)",
		"inv.yml:7:17: token: claim token file:", "token is empty (host db1, db2)",
		"inv.yml:9:24: sudo_password: sudo password: environment variable SUDO_PW is not set (host db1, db2)",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in:\n%s", w, text)
		}
	}
}

func TestInlineTokenWarnsAndIsRedacted(t *testing.T) {
	inv, err := loadString(t, "inv.yml", "defaults:\n  token: s3cr3t-value\nhosts: {h: {}}\n", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0].String(), "inv.yml:2:10: defaults.token: inline secret") {
		t.Errorf("warnings = %v", inv.Warnings)
	}
	h := inv.Hosts[0]
	for _, s := range []string{h.Claim.Token.String(), h.View().Token} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("token leaked: %q", s)
		}
	}
	if sec, err := h.Claim.Token.Resolve(nil); err != nil || sec.Reveal() != "s3cr3t-value" {
		t.Errorf("Resolve = %v, %v", sec, err)
	}
}

func writeFile(p, content string) error { return os.WriteFile(p, []byte(content), 0o644) }
