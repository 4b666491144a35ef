package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
	"golang.org/x/term"
)

// vaultPasswordFileEnv is Ansible's variable for a default vault password
// file, honoured when no vault flag is given.
const vaultPasswordFileEnv = "ANSIBLE_VAULT_PASSWORD_FILE"

// vaultFlags are Ansible's vault options.
type vaultFlags struct {
	files stringList
	ids   stringList
	ask   bool
}

func (v *vaultFlags) register(fs *flag.FlagSet) {
	fs.Var(&v.files, "vault-password-file", "Ansible Vault password file (an executable one is run and prints it), repeatable")
	fs.Var(&v.ids, "vault-id", "Ansible Vault password as ID@FILE or ID@prompt, repeatable")
	fs.BoolVar(&v.ask, "ask-vault-pass", false, "ask the Ansible Vault password on the terminal")
}

// keys reads every vault password given; nil when none is.
func (v *vaultFlags) keys(ctx context.Context) (*inventory.VaultKeys, error) {
	files := v.files
	if len(files) == 0 && len(v.ids) == 0 && !v.ask {
		if p, ok := os.LookupEnv(vaultPasswordFileEnv); ok && p != "" {
			files = stringList{p}
		}
	}
	keys := &inventory.VaultKeys{}
	for _, f := range files {
		s, err := inventory.ReadVaultPassword(ctx, f)
		if err != nil {
			return nil, err
		}
		keys.Add("", s)
	}
	for _, idSrc := range v.ids {
		id, src, ok := strings.Cut(idSrc, "@")
		if !ok {
			id, src = "", idSrc
		}
		var s inventory.Secret
		var err error
		if src == "prompt" {
			s, err = askVaultPassword(id)
		} else {
			s, err = inventory.ReadVaultPassword(ctx, src)
		}
		if err != nil {
			return nil, fmt.Errorf("--vault-id %s: %w", idSrc, err)
		}
		keys.Add(id, s)
	}
	if v.ask {
		s, err := askVaultPassword("")
		if err != nil {
			return nil, fmt.Errorf("--ask-vault-pass: %w", err)
		}
		keys.Add("", s)
	}
	if keys.Len() == 0 {
		return nil, nil
	}
	return keys, nil
}

// askVaultPassword asks on the controlling terminal, as ansible does.
func askVaultPassword(id string) (inventory.Secret, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return inventory.Secret{}, fmt.Errorf("no terminal to ask on: %w", err)
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return inventory.Secret{}, errors.New("no terminal to ask on")
	}
	prompt := "Vault password: "
	if id != "" {
		prompt = fmt.Sprintf("Vault password (%s): ", id)
	}
	io.WriteString(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	io.WriteString(tty, "\n")
	if err != nil {
		return inventory.Secret{}, err
	}
	if len(b) == 0 {
		return inventory.Secret{}, errors.New("empty vault password")
	}
	return inventory.NewSecret(string(b)), nil
}
