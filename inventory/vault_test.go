package inventory

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vaultKeys reads test password files as "ID@FILE" or "FILE".
func vaultKeys(t *testing.T, specs ...string) *VaultKeys {
	t.Helper()
	k := &VaultKeys{}
	for _, spec := range specs {
		id, file, ok := strings.Cut(spec, "@")
		if !ok {
			id, file = "", spec
		}
		s, err := ReadVaultPassword(context.Background(), file)
		if err != nil {
			t.Fatal(err)
		}
		k.Add(id, s)
	}
	return k
}

// TestVaultedTokenWithoutPasswordIsAnError: a !vault token was read as its
// ciphertext, a "token" that Cloud would refuse on every host. It must be
// an error naming the file, line and key, with no inventory.
func TestVaultedTokenWithoutPasswordIsAnError(t *testing.T) {
	inv, err := Load("testdata/vault/string-1.1.yml", testOpts())
	if err == nil {
		t.Fatalf("loaded, token %q", inv.Hosts[0].Claim.Token.Inline)
	}
	want := "testdata/vault/string-1.1.yml:6:26: all.vars.netdata_claim_token: Ansible Vault value: vault-encrypted, and no vault password was given"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant %q", err, want)
	}
}

func TestVaultedTokenIsASecret(t *testing.T) {
	opts := testOpts()
	opts.Vault = vaultKeys(t, "testdata/vault/vault-pass")
	inv, err := Load("testdata/vault/string-1.1.yml", opts)
	if err != nil {
		t.Fatal(err)
	}
	h := inv.Hosts[0]
	s, err := h.Claim.Token.Resolve(nil)
	if err != nil || s.Reveal() != "vaulted-token-1.1" {
		t.Fatalf("token = %v, %v", s, err)
	}
	if h.Claim.Token.String() == "vaulted-token-1.1" || strings.Contains(h.Claim.Token.String(), "vaulted-token") {
		t.Errorf("the token's description shows it: %s", h.Claim.Token)
	}
	for _, w := range inv.Warnings {
		if strings.Contains(w.Msg, "inline secret") {
			t.Errorf("a vaulted token is not an inline secret: %s", w)
		}
	}
}

func TestVaultWrongPassword(t *testing.T) {
	opts := testOpts()
	opts.Vault = vaultKeys(t, "testdata/vault/prod-pass")
	_, err := Load("testdata/vault/string-1.1.yml", opts)
	if err == nil || !strings.Contains(err.Error(), "Ansible Vault value: no vault password opens it (HMAC mismatch)") {
		t.Errorf("error: %v", err)
	}
}

// TestVaultEncryptedFiles: a vault-encrypted host_vars file (format 1.2,
// vault id prod) and a vault-encrypted inventory (1.1) are opened; the
// password of the matching id is tried first, others after.
func TestVaultEncryptedFiles(t *testing.T) {
	dir := t.TempDir()
	inv := mustReadFile(t, "testdata/vault/string-1.1.yml")
	writeFiles(t, dir, map[string]string{
		"inv.yml":          inv,
		"host_vars/h1.yml": mustReadFile(t, "testdata/vault/file-1.2.yml"),
		"group_vars/all":   mustReadFile(t, "testdata/vault/file-1.1.yml"),
	})
	opts := testOpts()
	opts.Vault = vaultKeys(t, "testdata/vault/vault-pass", "prod@testdata/vault/prod-pass")
	got, err := Load(filepath.Join(dir, "inv.yml"), opts)
	if err != nil {
		t.Fatal(err)
	}
	h := got.Hosts[0]
	if h.Claim.Token.Inline != "vaulted-token-in-a-file" || h.SudoPassword.Inline != "sudo-pw-9" || h.User != "plain" {
		t.Errorf("h1: token from host_vars %v, sudo password %v, user %q", h.Claim.Token, h.SudoPassword, h.User)
	}
	// Only the prod password, under another id: still tried, still opens.
	opts.Vault = vaultKeys(t, "testdata/vault/vault-pass", "other@testdata/vault/prod-pass")
	if _, err := Load(filepath.Join(dir, "inv.yml"), opts); err != nil {
		t.Errorf("prod's password under another id: %v", err)
	}
	opts.Vault = vaultKeys(t, "testdata/vault/vault-pass")
	_, err = Load(filepath.Join(dir, "inv.yml"), opts)
	if err == nil || !strings.Contains(err.Error(), `host_vars/h1.yml:1:1: Ansible Vault file: vault id "prod": no vault password opens it`) {
		t.Errorf("without prod's password: %v", err)
	}
	opts.Vault = vaultKeys(t, "testdata/vault/vault-pass")
	enc, err := Load("testdata/vault/inventory-1.1.yml", opts)
	if err != nil {
		t.Fatal(err)
	}
	if h := enc.Hosts[0]; hostLine(h) != "enc1 10.0.0.7:22 encuser [ungrouped]" {
		t.Errorf("encrypted inventory: %s", hostLine(h))
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVaultMalformed(t *testing.T) {
	k := vaultKeys(t, "testdata/vault/vault-pass")
	good := mustReadFile(t, "testdata/vault/file-1.1.yml")
	lines := strings.Split(strings.TrimSpace(good), "\n")
	// Flip one hex digit of the ciphertext (the last line ends it).
	last := []byte(lines[len(lines)-1])
	last[len(last)-3] ^= 1
	tampered := strings.Join(append(lines[:len(lines)-1:len(lines)-1], string(last)), "\n")
	for name, c := range map[string]struct {
		text string
		want error
	}{
		"tampered":    {tampered, ErrVaultFormat},
		"version 1.3": {strings.Replace(good, ";1.1;", ";1.3;", 1), ErrVaultFormat},
		"cipher":      {strings.Replace(good, "AES256", "AES128", 1), ErrVaultFormat},
		"1.2 no id":   {strings.Replace(good, ";1.1;AES256", ";1.2;AES256", 1), ErrVaultFormat},
		"not hex":     {strings.Replace(good, "3", "z", 1), ErrVaultFormat},
	} {
		_, err := k.Decrypt([]byte(c.text))
		if name == "tampered" {
			// A changed digit breaks the hex pairing or the HMAC.
			if !errors.Is(err, ErrVaultFormat) && !errors.Is(err, ErrVaultWrongKey) {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if s, err := k.Decrypt([]byte(good)); err != nil || s.Reveal() != "ansible_user: plain\n" {
		t.Errorf("good: %q %v", s.Reveal(), err)
	}
}

// TestVaultAgainstRealAnsibleVault encrypts plaintexts of every length
// around the AES block size with the real ansible-vault and decrypts them.
func TestVaultAgainstRealAnsibleVault(t *testing.T) {
	bin, err := exec.LookPath("ansible-vault")
	if err != nil {
		t.Skip("ansible-vault is not installed")
	}
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("p\u00e4ss w0rd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := vaultKeys(t, pass)
	for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 100} {
		raw := make([]byte, n)
		rand.Read(raw)
		plain := hex.EncodeToString(raw)[:n]
		f := filepath.Join(dir, "plain")
		if err := os.WriteFile(f, []byte(plain), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		args := []string{"encrypt", "--vault-password-file", pass, f}
		if n%2 == 0 {
			args = []string{"encrypt", "--vault-id", "lab@" + pass, f}
		}
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("ansible-vault %v: %v\n%s", args, err, out)
		}
		enc, _ := os.ReadFile(f)
		if n%2 == 0 && !bytes.HasPrefix(enc, []byte("$ANSIBLE_VAULT;1.2;AES256;lab\n")) {
			t.Fatalf("not a 1.2 vault: %.40s", enc)
		}
		s, err := k.Decrypt(enc)
		if err != nil || s.Reveal() != plain {
			t.Errorf("%d bytes: %q, %v; want %q", n, s.Reveal(), err, plain)
		}
	}
}

func TestVaultPasswordScript(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pw.sh*":   "#!/bin/sh\nprintf 'fixture-vault-password\\n'\n",
		"fail.sh*": "#!/bin/sh\necho 'keyring locked' >&2\nexit 4\n",
		"empty":    " \n",
	})
	opts := testOpts()
	opts.Vault = vaultKeys(t, filepath.Join(dir, "pw.sh"))
	if _, err := Load("testdata/vault/string-1.1.yml", opts); err != nil {
		t.Errorf("password from a script: %v", err)
	}
	_, err := ReadVaultPassword(context.Background(), filepath.Join(dir, "fail.sh"))
	if err == nil || !strings.Contains(err.Error(), "exited with status 4; stderr: keyring locked") {
		t.Errorf("failing script: %v", err)
	}
	if _, err := ReadVaultPassword(context.Background(), filepath.Join(dir, "empty")); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
}

// TestVaultOracleAnsible: the real ansible decrypts the same inventory (a
// vaulted token inline, a 1.2 vault host_vars file, a 1.1 vault group_vars
// file) to the same token, sudo password, user and address per host as
// fleetclaim.
func TestVaultOracleAnsible(t *testing.T) {
	bin, err := exec.LookPath("ansible")
	if err != nil {
		t.Skip("ansible is not installed")
	}
	dir := t.TempDir()
	// string-1.1.yml with a second host, h2, which gets no host_vars.
	inv := strings.Replace(mustReadFile(t, "testdata/vault/string-1.1.yml"), "  vars:\n", "    h2:\n      ansible_host: 10.0.0.2\n  vars:\n", 1)
	writeFiles(t, dir, map[string]string{
		"inv.yml":          inv,
		"host_vars/h1.yml": mustReadFile(t, "testdata/vault/file-1.2.yml"),
		"group_vars/all":   mustReadFile(t, "testdata/vault/file-1.1.yml"),
		"ansible.cfg":      "",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "all", "-i", filepath.Join(dir, "inv.yml"), "-m", "debug",
		"-a", "msg={{ netdata_claim_token }}|{{ ansible_become_password | default('') }}|{{ ansible_user }}|{{ ansible_host }}",
		"--vault-password-file", "testdata/vault/vault-pass", "--vault-id", "prod@testdata/vault/prod-pass")
	cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"), "ANSIBLE_LOAD_CALLBACK_PLUGINS=1",
		"ANSIBLE_STDOUT_CALLBACK=json", "ANSIBLE_LOCAL_TEMP="+dir, "ANSIBLE_HOME="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible: %v\n%s", err, out)
	}
	var res struct {
		Plays []struct {
			Tasks []struct {
				Hosts map[string]struct {
					Msg string `json:"msg"`
				} `json:"hosts"`
			} `json:"tasks"`
		} `json:"plays"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Plays) == 0 || len(res.Plays[0].Tasks) == 0 {
		t.Fatalf("ansible's output: %v\n%s", err, out)
	}
	want := res.Plays[0].Tasks[0].Hosts
	opts := testOpts()
	opts.Vault = vaultKeys(t, "testdata/vault/vault-pass", "prod@testdata/vault/prod-pass")
	got, err := Load(filepath.Join(dir, "inv.yml"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hosts) != 2 || len(want) != 2 {
		t.Fatalf("fleetclaim has %d hosts, ansible %d", len(got.Hosts), len(want))
	}
	for _, h := range got.Hosts {
		got := strings.Join([]string{h.Claim.Token.Inline, h.SudoPassword.Inline, h.User, h.Address}, "|")
		if got != want[h.Name].Msg {
			t.Errorf("%s: fleetclaim %q, ansible %q", h.Name, got, want[h.Name].Msg)
		}
	}
}
