package claim

import (
	_ "embed"
	"strconv"
	"strings"

	"github.com/fleetclaim/fleetclaim/remote"
)

// The scripts fleetclaim runs on hosts to claim them. Each is a POSIX sh
// file taking positional parameters; the host scripts run after lib.sh,
// their shared functions.

//go:embed lib.sh
var libScript string

//go:embed claimconf.sh
var claimConfScript string

//go:embed claimscript.sh
var claimScriptScript string

//go:embed tokencleanup.sh
var tokenCleanupScript string

//go:embed unclaim.sh
var unclaimScript string

//go:embed netdataconf.sh
var netdataConfScript string

//go:embed kickstart.sh
var kickstartScript string

// The docker method's scripts run inside the container with `docker exec
// -i CONTAINER sh -c SCRIPT sh ARGS`, after lib.sh, the file they write on
// stdin.

//go:embed docker-ca.sh
var dockerCAScript string

//go:embed docker-claimconf.sh
var dockerClaimConfScript string

// scriptInput is a named input of a host script: a shell variable set
// ahead of the script's text. The text travels on the session's stdin, so
// a secret input is never on a command line (positional parameters may be:
// RunScript puts them on `sh -s --`'s when the script gets a session of its
// own).
type scriptInput struct{ name, value string }

// The host scripts as sent: without their comment lines, half of their
// bytes, sent to every host.
var (
	libCode         = code(libScript)
	claimConfCode   = code(claimConfScript)
	claimScriptCode = code(claimScriptScript)
	unclaimCode     = code(unclaimScript)
	netdataConfCode = code(netdataConfScript)
)

// hostScript is lib.sh (as sent) and body, preceded by the inputs, each
// quoted.
func hostScript(body string, in ...scriptInput) (string, error) {
	var b strings.Builder
	b.Grow(len(libCode) + len(body) + 256)
	q := &remote.Quoter{}
	for _, i := range in {
		b.WriteString(i.name + "=" + q.Q(i.value) + "\n")
	}
	if q.Err != nil {
		return "", &Error{Category: remote.CatInvalidValue, Msg: "a value for the claim script", Err: q.Err}
	}
	b.WriteString(libCode)
	b.WriteString(body)
	return b.String(), nil
}

// code is script without its comment lines (a line whose first non-blank
// character is #). No script of fleetclaim has such a line inside a quoted
// string or a here-document; the tests run what this returns.
func code(script string) string {
	var b strings.Builder
	for script != "" {
		line, rest, _ := strings.Cut(script, "\n")
		if t := strings.TrimLeft(line, " \t"); !strings.HasPrefix(t, "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
		script = rest
	}
	return b.String()
}

// caInputs are the CA chain's inputs: the chain ending in a newline (as a
// file's last line does), and the size up to which the script compares it
// with the chain in place.
func caInputs(ca []byte) []scriptInput {
	s := string(ca)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []scriptInput{{"FC_CA", s}, {"FC_CA_MAX", strconv.Itoa(caCompareMax)}}
}

// caCompareMax is the largest CA chain write_ca compares with the one in
// place before writing (a chain of a few certificates is 2 to 6 KB).
const caCompareMax = 16 << 10

// hasCredentials reports whether a proxy URL carries a user or password
// (user:pass@host): a secret, kept off command lines and world-readable
// files. Any "@" counts.
func hasCredentials(proxy string) bool { return strings.Contains(proxy, "@") }

// caCovers says, in a plan, what a custom CA chain (ca_file) does and does
// not cover: the agent passes it to the claim request only; its link to
// Cloud checks the system's store (netdata v2.11.0
// src/aclk/mqtt_websockets/mqtt_wss_client.c:444, src/aclk/https_client.c:848).
const caCovers = "for the claim request only: the agent's link to Cloud trusts the system's CA store, so a private CA must be installed there too"
