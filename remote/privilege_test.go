package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// scripted is a Streamer whose "sudo" writes the given pieces to stderr,
// one Write each, then, when wait is set, reads its stdin to the end (as
// sudo reading an answer does) and fails.
type scripted struct {
	pieces []string
	wait   bool
	read   string
}

func (s *scripted) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	return Result{}, errors.New("not used")
}

func (s *scripted) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("not used")
}

func (s *scripted) Exec(ctx context.Context, e Exec) (int, error) {
	for _, p := range s.pieces {
		io.WriteString(e.Stderr, p)
	}
	if s.wait {
		b, _ := io.ReadAll(e.Stdin)
		s.read = string(b)
	}
	return 1, nil
}

// TestPrivilegedForeignQuestion: sudo asking something other than
// fleetclaim's prompt (a PAM module's one-time code) gets its input closed
// and fails at once with no-privilege, saying interactive authentication is
// not supported; the command's script never reaches it.
func TestPrivilegedForeignQuestion(t *testing.T) {
	for _, pw := range [][]byte{nil, []byte("pw")} {
		s := &scripted{pieces: []string{"Verification code: "}, wait: true}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Privileged(s, Become{Method: "sudo", Password: pw}, "").Run(ctx, "true", strings.NewReader("echo script\n"))
		cancel()
		if CategoryOf(err) != CatNoPrivilege || !strings.Contains(err.Error(), `asked "Verification code:"`) || !strings.Contains(err.Error(), "interactive authentication") {
			t.Fatalf("password %v: %v", pw != nil, err)
		}
		if strings.Contains(s.read, "script") || strings.Contains(s.read, "pw") {
			t.Fatalf("sudo was given %q", s.read)
		}
	}
}

// TestPrivilegedMessageInPieces: a refusal written in pieces ("doas: ",
// then the rest, as err(3) does) is sudo's message, not a question.
func TestPrivilegedMessageInPieces(t *testing.T) {
	s := &scripted{pieces: []string{"doas: ", "doas is not enabled, /etc/doas.conf: No such file or directory\n"}}
	_, err := Privileged(s, Become{Method: "doas"}, "").Run(context.Background(), "true", nil)
	if CategoryOf(err) != CatNoPrivilege || !strings.Contains(err.Error(), "doas is not enabled on the host") || strings.Contains(err.Error(), "asked") {
		t.Fatalf("%v", err)
	}
}

// TestPrivilegedLocalRefusalEnds: a refusal through Local (connection:
// local) ends when sudo does, not when the run's deadline cuts it: the
// command's input, never sent because the command never started, does not
// hold Exec open.
func TestPrivilegedLocalRefusalEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := Local{Env: []string{"PATH=/nonexistent"}}
	_, err := Privileged(l, Become{Method: "sudo"}, "").Run(ctx, "true", strings.NewReader("input\n"))
	if CategoryOf(err) != CatNoPrivilege || !strings.Contains(err.Error(), "sudo is not installed") {
		t.Fatalf("%v", err)
	}
}
