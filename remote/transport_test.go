package remote

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// recordingRunner records the commands it is asked to run and what they
// were given on stdin, then runs them on this machine (unless dry).
type recordingRunner struct {
	dry          bool
	cmds, stdins []string
}

func (r *recordingRunner) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	in := ""
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return Result{}, err
		}
		in = string(b)
	}
	r.cmds, r.stdins = append(r.cmds, cmd), append(r.stdins, in)
	if r.dry {
		return Result{}, nil
	}
	return Local{}.Run(ctx, cmd, strings.NewReader(in))
}

func (r *recordingRunner) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return Local{}.DialContext(ctx, network, addr)
}

// TestRunScriptOnStdin: a script, and so the secrets in it (a claim token
// in a here-document), travels on stdin, never on the command line, which
// every user of the host can read in the process list; its arguments are
// quoted on the command line.
func TestRunScriptOnStdin(t *testing.T) {
	const secret = "claim-token-7f1c9e"
	script := "cat <<'EOF'\n" + secret + "\nEOF\nprintf '%s|' \"$@\"\n"
	r := &recordingRunner{}
	res, err := RunScript(context.Background(), r, script, "a b", "$x")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != secret+"\na b|$x|" {
		t.Fatalf("the script printed %q", res.Stdout)
	}
	if len(r.cmds) != 1 || r.cmds[0] != "exec sh -s -- 'a b' '$x'" || r.stdins[0] != script {
		t.Fatalf("ran %q with stdin %q, want exec sh -s -- 'a b' '$x' with the script on stdin", r.cmds, r.stdins)
	}
	for _, c := range r.cmds {
		if strings.Contains(c, secret) {
			t.Fatalf("the script's secret is on the command line: %q", c)
		}
	}
}

// TestSudoPasswordOnStdin: the sudo password goes to sudo -S on stdin,
// before the command's own input, never on the command line.
func TestSudoPasswordOnStdin(t *testing.T) {
	const pw = "sudo-pw-5e2a91"
	r := &recordingRunner{dry: true}
	Privileged(r, Become{Method: "sudo", Password: []byte(pw)}, "").Run(context.Background(), "cat", strings.NewReader("input"))
	if len(r.cmds) != 1 {
		t.Fatalf("ran %q, want one command", r.cmds)
	}
	if strings.Contains(r.cmds[0], pw) || !strings.HasPrefix(r.cmds[0], "sudo -S ") {
		t.Fatalf("command line %q: want sudo -S, without the password", r.cmds[0])
	}
	if r.stdins[0] != pw+"\ninput" {
		t.Fatalf("stdin %q, want the password line, then the command's input", r.stdins[0])
	}
}
