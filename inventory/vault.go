package inventory

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Ansible Vault, format 1.1 and 1.2 (ansible-core's
// lib/ansible/parsing/vault/__init__.py, VaultAES256): a header line
// "$ANSIBLE_VAULT;1.1;AES256" or "$ANSIBLE_VAULT;1.2;AES256;VAULT_ID", then
// the hex of "hex(salt)\nhex(hmac)\nhex(ciphertext)". The keys come from
// PBKDF2-HMAC-SHA256 of the password and salt, 10000 iterations, 80 bytes:
// the AES-256 key, the HMAC-SHA256 key and the CTR mode's initial counter.
// The HMAC covers the ciphertext; the plaintext is PKCS#7-padded.
const (
	vaultHeader     = "$ANSIBLE_VAULT"
	vaultIterations = 10000
	vaultKeyLen     = 32
	vaultTag        = "!vault"
	// vaultJSONKey is how ansible-inventory --list prints a vaulted value.
	vaultJSONKey = "__ansible_vault"
)

// Vault errors, for errors.Is.
var (
	ErrVaultNoPassword = errors.New("vault-encrypted, and no vault password was given (use --vault-password-file or --ask-vault-pass)")
	ErrVaultWrongKey   = errors.New("no vault password opens it (HMAC mismatch)")
	ErrVaultFormat     = errors.New("malformed vault data")
)

// VaultKeys are the Ansible Vault passwords given on the command line, each
// with its vault id ("default" when none was named).
type VaultKeys struct {
	keys []vaultKey
}

type vaultKey struct {
	id       string
	password Secret
}

// Add adds a password with its vault id ("" means "default").
func (k *VaultKeys) Add(id string, password Secret) {
	if id == "" {
		id = "default"
	}
	k.keys = append(k.keys, vaultKey{id: id, password: password})
}

// Len is the number of passwords.
func (k *VaultKeys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// IsVault reports whether data is vault-encrypted (its first line is a
// vault header).
func IsVault(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(vaultHeader+";"))
}

// Decrypt opens vault text (header and hex lines). As Ansible does by
// default, it tries the passwords whose vault id matches the header's
// first, then the others.
func (k *VaultKeys) Decrypt(text []byte) (Secret, error) {
	id, body, err := parseVault(text)
	if err != nil {
		return Secret{}, err
	}
	if k.Len() == 0 {
		return Secret{}, ErrVaultNoPassword
	}
	order := make([]vaultKey, 0, len(k.keys))
	for _, key := range k.keys {
		if key.id == id {
			order = append(order, key)
		}
	}
	for _, key := range k.keys {
		if key.id != id {
			order = append(order, key)
		}
	}
	for _, key := range order {
		if pt, err := vaultOpen(body, []byte(key.password.Reveal())); err == nil {
			return NewSecret(string(pt)), nil
		} else if !errors.Is(err, ErrVaultWrongKey) {
			return Secret{}, err
		}
	}
	if id != "" {
		return Secret{}, fmt.Errorf("vault id %q: %w", id, ErrVaultWrongKey)
	}
	return Secret{}, ErrVaultWrongKey
}

// vaultResult is one decryption, cached by its vault text.
type vaultResult struct {
	s   Secret
	err error
}

// vaultBody is the decoded payload of a vault.
type vaultBody struct {
	salt, mac, ciphertext []byte
}

// parseVault checks the header and decodes the payload; id is the vault id
// of a 1.2 header.
func parseVault(text []byte) (string, vaultBody, error) {
	s := strings.TrimSpace(string(text))
	header, rest, _ := strings.Cut(s, "\n")
	fields := strings.Split(strings.TrimSpace(header), ";")
	if len(fields) < 3 || fields[0] != vaultHeader {
		return "", vaultBody{}, fmt.Errorf("%w: no %s header", ErrVaultFormat, vaultHeader)
	}
	id := ""
	switch fields[1] {
	case "1.1":
		if len(fields) != 3 {
			return "", vaultBody{}, fmt.Errorf("%w: header %q", ErrVaultFormat, truncate(header, 60))
		}
	case "1.2":
		if len(fields) != 4 || fields[3] == "" {
			return "", vaultBody{}, fmt.Errorf("%w: a 1.2 header names a vault id", ErrVaultFormat)
		}
		id = fields[3]
	default:
		return "", vaultBody{}, fmt.Errorf("%w: format version %q (want 1.1 or 1.2)", ErrVaultFormat, truncate(fields[1], 20))
	}
	if fields[2] != "AES256" {
		return "", vaultBody{}, fmt.Errorf("%w: cipher %q (want AES256)", ErrVaultFormat, truncate(fields[2], 20))
	}
	hexText := strings.Join(strings.Fields(rest), "")
	inner, err := hex.DecodeString(hexText)
	if err != nil {
		return "", vaultBody{}, fmt.Errorf("%w: %v", ErrVaultFormat, err)
	}
	parts := strings.Split(string(inner), "\n")
	if len(parts) != 3 {
		return "", vaultBody{}, fmt.Errorf("%w: want salt, hmac and ciphertext", ErrVaultFormat)
	}
	var b vaultBody
	for i, dst := range []*[]byte{&b.salt, &b.mac, &b.ciphertext} {
		*dst, err = hex.DecodeString(parts[i])
		if err != nil {
			return "", vaultBody{}, fmt.Errorf("%w: %v", ErrVaultFormat, err)
		}
	}
	if len(b.ciphertext) == 0 || len(b.ciphertext)%aes.BlockSize != 0 || len(b.mac) != sha256.Size {
		return "", vaultBody{}, fmt.Errorf("%w: bad lengths", ErrVaultFormat)
	}
	return id, b, nil
}

// vaultOpen checks the HMAC and decrypts.
func vaultOpen(b vaultBody, password []byte) ([]byte, error) {
	dk, err := pbkdf2.Key(sha256.New, string(password), b.salt, vaultIterations, 2*vaultKeyLen+aes.BlockSize)
	if err != nil {
		return nil, err
	}
	encKey, macKey, iv := dk[:vaultKeyLen], dk[vaultKeyLen:2*vaultKeyLen], dk[2*vaultKeyLen:]
	m := hmac.New(sha256.New, macKey)
	m.Write(b.ciphertext)
	if !hmac.Equal(m.Sum(nil), b.mac) {
		return nil, ErrVaultWrongKey
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, len(b.ciphertext))
	cipher.NewCTR(block, iv).XORKeyStream(pt, b.ciphertext)
	n := int(pt[len(pt)-1])
	if n == 0 || n > aes.BlockSize || !bytes.Equal(pt[len(pt)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, fmt.Errorf("%w: bad padding", ErrVaultFormat)
	}
	return pt[:len(pt)-n], nil
}

// decryptFile opens a vault-encrypted file; other data is returned as is.
func (l *loader) decryptFile(file string, data []byte) ([]byte, bool) {
	if !IsVault(data) {
		return data, true
	}
	s, err := l.opts.Vault.Decrypt(data)
	if err != nil {
		l.errorf(file, 1, 1, "", "Ansible Vault file: %v", err)
		return nil, false
	}
	return []byte(s.Reveal()), true
}

// isVaultNode reports a vaulted value: a !vault scalar, a scalar that is
// vault text, or ansible-inventory's {"__ansible_vault": TEXT}.
func isVaultNode(n *yaml.Node) (string, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == vaultTag || strings.HasPrefix(strings.TrimSpace(n.Value), vaultHeader+";") {
			return n.Value, true
		}
	case yaml.MappingNode:
		if len(n.Content) == 2 && n.Content[0].Value == vaultJSONKey && n.Content[1].Kind == yaml.ScalarNode {
			return n.Content[1].Value, true
		}
	}
	return "", false
}

// unvault returns n, or for a vaulted value a string node of its plaintext
// at the same place, marked so that it is not called an inline secret.
func (l *loader) unvault(file, key string, n *yaml.Node) (*yaml.Node, bool) {
	text, ok := isVaultNode(n)
	if !ok {
		return n, true
	}
	// One vaulted value repeats on every host of ansible-inventory's
	// output: decrypt it once (PBKDF2 costs milliseconds).
	c, ok := l.vaultCache[text]
	if !ok {
		c.s, c.err = l.opts.Vault.Decrypt([]byte(text))
		if l.vaultCache == nil {
			l.vaultCache = map[string]vaultResult{}
		}
		l.vaultCache[text] = c
	}
	s, err := c.s, c.err
	if err != nil {
		l.errorf(file, n.Line, n.Column, key, "Ansible Vault value: %v", err)
		return nil, false
	}
	p := scalarNode(s.Reveal(), n.Line, n.Column)
	if l.vaulted == nil {
		l.vaulted = map[*yaml.Node]bool{}
	}
	l.vaulted[p] = true
	return p, true
}

// ReadVaultPassword reads a vault password file as Ansible does: an
// executable file is run and prints the password; another file holds it.
// Surrounding whitespace is dropped (ansible-core's FileVaultSecret and
// ScriptVaultSecret). An empty password is an error.
func ReadVaultPassword(ctx context.Context, path string) (Secret, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Secret{}, fmt.Errorf("vault password file: %w", unwrapPathError(err))
	}
	var data []byte
	if st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		l := &loader{ctx: ctx}
		out, ok := l.execScript(path, path, nil...)
		if !ok {
			return Secret{}, fmt.Errorf("vault password script: %s", l.errs[0].Msg)
		}
		data = bytes.Trim(out, "\r\n")
	} else {
		data, err = os.ReadFile(path)
		if err != nil {
			return Secret{}, fmt.Errorf("vault password file: %w", unwrapPathError(err))
		}
		data = bytes.TrimSpace(data)
	}
	if len(data) == 0 {
		return Secret{}, fmt.Errorf("vault password file %s is empty", path)
	}
	return NewSecret(string(data)), nil
}
