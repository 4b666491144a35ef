package remote

// TerminalBecomePassword returns a source that asks, on the terminal, the
// one password sudo or doas take on every host that becomes root
// (--ask-become-pass), with a prompt that cannot be taken for the SSH
// password's.
func TerminalBecomePassword() func() ([]byte, error) {
	return func() ([]byte, error) { return askTerminal(becomePrompt) }
}

// becomePrompt is what TerminalBecomePassword asks, as Ansible's
// --ask-become-pass does.
const becomePrompt = "BECOME password (sudo/doas, used for every host that becomes root): "
