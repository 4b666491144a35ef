package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/lab"
)

// labAnsibleINI writes an Ansible INI inventory of the lab's hosts, with
// every fleetclaim setting but the token.
func labAnsibleINI(t *testing.T, info *lab.Info, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("[lab]\n")
	for _, h := range info.Hosts {
		fmt.Fprintf(&b, "%s ansible_host=%s ansible_port=%d netdata_claim_netdata_prefix=%s\n", h.Name, h.Address, h.Port, h.Prefix)
	}
	fmt.Fprintf(&b, "[lab:vars]\nansible_user=root\nansible_ssh_private_key_file=%s\nnetdata_claim_known_hosts=%s\n"+
		"netdata_claim_url=%s\nnetdata_claim_ca_file=%s\nnetdata_claim_rooms=[%q]\n",
		info.IdentityFile(), info.KnownHosts(), info.CloudURL, info.CAFile(), info.RoomID("production"))
	p := filepath.Join(dir, "lab.ini")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// vaultString runs the real ansible-vault encrypt_string, the secret on its
// stdin (never on a command line).
func vaultString(t *testing.T, passFile, name, secret string) string {
	t.Helper()
	bin, err := exec.LookPath("ansible-vault")
	if err != nil {
		t.Skip("ansible-vault is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "encrypt_string", "--vault-password-file", passFile, "--stdin-name", name)
	cmd.Stdin = strings.NewReader(secret)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-vault encrypt_string: %v", err)
	}
	return string(out)
}

// TestE2EVaultedTokenThroughAnsibleInventory is a fleet as Ansible users
// keep it: an INI inventory, the claim token vaulted in group_vars/all.yml
// by the real ansible-vault, the whole read by the real ansible-inventory
// --list. fleetclaim claims every host from that output with
// --vault-password-file, and refuses without it, contacting nothing.
func TestE2EVaultedTokenThroughAnsibleInventory(t *testing.T) {
	ansibleInv, err := exec.LookPath("ansible-inventory")
	if err != nil {
		t.Skip("ansible-inventory is not installed")
	}
	info := startLab(t, 3)
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pass := filepath.Join(dir, "vault-pass")
	if err := os.WriteFile(pass, []byte("lab vault password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ini := labAnsibleINI(t, info, dir)
	if err := os.MkdirAll(filepath.Join(dir, "group_vars"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "group_vars", "all.yml"), []byte(vaultString(t, pass, "netdata_claim_token", token)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list, err := exec.CommandContext(ctx, ansibleInv, "-i", ini, "--list").Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v", err)
	}
	if !strings.Contains(string(list), "__ansible_vault") || strings.Contains(string(list), token) {
		t.Fatalf("ansible-inventory's output does not hold the vaulted token:\n%s", list)
	}
	listFile := filepath.Join(dir, "fleet.json")
	if err := os.WriteFile(listFile, list, 0o644); err != nil {
		t.Fatal(err)
	}

	r := fleetclaim(t, nil, "claim", "-i", listFile, "--wait", "5s", "--no-history")
	if r.code != 2 || !strings.Contains(r.stderr, "netdata_claim_token: Ansible Vault value: vault-encrypted, and no vault password was given") {
		t.Fatalf("without a vault password: exit %d\n%s", r.code, r.stderr)
	}
	if n := countPUTs(t, info); n != 0 {
		t.Fatalf("without a vault password, %d claims reached Cloud", n)
	}

	r = fleetclaim(t, nil, "claim", "-i", listFile, "--vault-password-file", pass, "--wait", "5s", "--no-history")
	if r.code != 0 {
		t.Fatalf("claim: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Error("the token appears in fleetclaim's output")
	}
	claims, err := info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != len(info.Hosts) {
		t.Fatalf("lab Cloud has %d claims, want %d", len(claims), len(info.Hosts))
	}
	for _, c := range claims {
		if len(c.Rooms) != 1 || c.Rooms[0] != info.RoomID("production") {
			t.Errorf("%s claimed into rooms %v", c.Hostname, c.Rooms)
		}
	}
}

// TestE2EInventoryListScriptAndINI: `fleetclaim inventory list -i
// script.py -i more.ini` merges a Python inventory script with an INI file.
func TestE2EInventoryListScriptAndINI(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "script.py")
	if err := os.WriteFile(script, []byte(`#!/usr/bin/env python3
import json, sys
if sys.argv[1:] == ["--list"]:
    json.dump({"web": {"hosts": ["web1", "web2"], "vars": {"ansible_user": "deploy"}},
               "_meta": {"hostvars": {"web1": {"ansible_host": "10.0.0.1"}}}}, sys.stdout)
else:
    json.dump({}, sys.stdout)
`), 0o755); err != nil {
		t.Fatal(err)
	}
	more := filepath.Join(dir, "more.ini")
	if err := os.WriteFile(more, []byte("[web]\nweb2 ansible_host=10.0.0.2\n[db]\ndb1 ansible_host=10.0.1.1 ansible_user=pg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := fleetclaim(t, nil, "inventory", "list", "-i", script, "-i", more, "-F", "none")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"web1  web     10.0.0.1  deploy", "web2  web     10.0.0.2  deploy", "db1   db      10.0.1.1  pg"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inventory list lacks %q:\n%s", want, r.stdout)
		}
	}
	r = fleetclaim(t, nil, "inventory", "check", "-i", script, "-i", more, "-F", "none")
	if !strings.Contains(r.stdout+r.stderr, script+","+more) {
		t.Errorf("inventory check does not name both sources:\n%s%s", r.stdout, r.stderr)
	}
}

// TestE2EAskVaultPass types the vault password on a real terminal (a pty
// from util-linux script(1)): --ask-vault-pass asks on /dev/tty, and the
// vaulted token opens; a wrong password is an error naming the value.
func TestE2EAskVaultPass(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed")
	}
	inv := "../../inventory/testdata/vault/string-1.1.yml"
	run := func(password string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		line := binPath + " inventory list -F none --output long --ask-vault-pass -i " + inv
		cmd := exec.CommandContext(ctx, scriptBin, "-qec", line, "/dev/null")
		cmd.Stdin = strings.NewReader(password + "\n")
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("fixture-vault-password")
	if err != nil || !strings.Contains(out, "Vault password: ") || !strings.Contains(out, "inline (redacted)") {
		t.Fatalf("right password: %v\n%s", err, out)
	}
	if strings.Contains(out, "vaulted-token-1.1") {
		t.Errorf("the token is printed:\n%s", out)
	}
	out, err = run("wrong password")
	if err == nil || !strings.Contains(out, "string-1.1.yml:6:26: all.vars.netdata_claim_token: Ansible Vault value: no vault password opens it") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
}
