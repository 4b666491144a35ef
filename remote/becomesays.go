package remote

import (
	"regexp"
	"strings"
)

// What sudo and doas say when they refuse to run a command. Their exit code
// tells nothing apart (sudo exits 1 for every refusal; doas's errx(1, …)
// and err(1, …) do too), so besides the prompts fleetclaim counts and a
// shell's 127 for a tool that is not installed, the one signal is the line
// the tool prints. Each line is matched whole against a message of the
// tool's source, never searched for a phrase: a user, host or path name
// that holds a phrase does not change what a line says.

// says is a set of things a tool's lines said.
type says uint

const (
	saysWrongPassword says = 1 << iota
	saysPasswordNeeded
	saysNotAllowed
	saysDoasNotEnabled
	saysNeedTTY
)

// toolMessage is one message of sudo or doas, as the user sees it: in
// format, %s stands for any text and %u for a number. sudo_warnx and
// doas's err/errx put the program's name and ": " ahead; messages sudo
// sends through its conversation function (sudo_printf) have none.
type toolMessage struct {
	format string
	says   says
}

// toolMessages are the messages of sudo 1.9.13p3 (Debian 12's
// 1.9.13p3-1+deb12u4; lab/testdata/sudo/sudo-1.9.13p3.txt has them as that
// sudo printed them) and of OpenDoas (Debian 12's opendoas 6.8.2-1+b1,
// whose binary holds the same texts as the source of v6.8.1 cited) that
// fleetclaim acts on, in the C locale.
func toolMessages() []toolMessage {
	return []toolMessage{
		// plugins/sudoers/auth/sudo_auth.c:227 prints def_badpass_message,
		// "Sorry, try again." unless sudo was built otherwise
		// (configure.ac:209, plugins/sudoers/defaults.c:600).
		{"Sorry, try again.", saysWrongPassword},
		// plugins/sudoers/logging.c:391-392, printed at :535.
		{"sudo: %u incorrect password attempt", saysWrongPassword},
		{"sudo: %u incorrect password attempts", saysWrongPassword},
		// plugins/sudoers/logging.c:539.
		{"sudo: a password is required", saysPasswordNeeded},
		// src/tgetpass.c:98 (-S and an empty stdin).
		{"sudo: no password was provided", saysPasswordNeeded},
		// plugins/sudoers/logging.c:315, :318, :321, :324-325.
		{"%s is not in the sudoers file.", saysNotAllowed},
		{"%s is not allowed to run sudo on %s.", saysNotAllowed},
		{"Sorry, user %s may not run sudo on %s.", saysNotAllowed},
		{"Sorry, user %s is not allowed to execute %s as %s on %s.", saysNotAllowed},
		// plugins/sudoers/sudoers.c:560 (Defaults requiretty).
		{"sudo: sorry, you must have a tty to run sudo", saysNeedTTY},
		// sudo 1.8.27 (Debian 10) src/tgetpass.c:141.
		{"sudo: no tty present and no askpass program specified", saysNeedTTY},
		// OpenDoas doas.c:164: err(1, "doas is not enabled, %s", file)
		// appends strerror(errno).
		{"doas: doas is not enabled, %s: %s", saysDoasNotEnabled},
		// doas.c:349: errc(1, EPERM, NULL), strerror(EPERM) (glibc): no
		// rule permits the user.
		{"doas: Operation not permitted", saysNotAllowed},
		// doas.c:355, :363, pam.c:280 (-n and a rule without nopass).
		{"doas: Authentication required", saysPasswordNeeded},
		// pam.c:248, :294, :307.
		{"doas: Authentication failed", saysWrongPassword},
	}
}

// toolSays reads what sudo or doas printed before the command would have
// started, a line at a time (a terminal's CR, a prompt's blanks trimmed).
func toolSays(printed string) says {
	msgs := toolMessages()
	pats := make([]*regexp.Regexp, len(msgs))
	for i, m := range msgs {
		pats[i] = formatPattern(m.format)
	}
	var s says
	for _, l := range strings.Split(printed, "\n") {
		l = strings.TrimSpace(l)
		for i, p := range pats {
			if p.MatchString(l) {
				s |= msgs[i].says
			}
		}
	}
	return s
}

// formatPattern matches a whole line printed with format.
func formatPattern(format string) *regexp.Regexp {
	p := regexp.QuoteMeta(format)
	p = strings.ReplaceAll(p, "%s", ".+")
	p = strings.ReplaceAll(p, "%u", "[0-9]+")
	return regexp.MustCompile("^" + p + "$")
}
