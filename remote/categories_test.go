package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestJumpDialCategory: a jump host's refusal is told by its reason and
// its whole message (OpenSSH's strerror and gai_strerror texts), not by
// words a message or a name merely holds.
func TestJumpDialCategory(t *testing.T) {
	failed := func(msg string) error {
		return &ssh.OpenChannelError{Reason: ssh.ConnectionFailed, Message: msg}
	}
	for _, c := range []struct {
		err  error
		want Category
	}{
		{failed("Connection refused"), CatConnectRefused},
		{fmt.Errorf("wrapped: %w", failed("Connection refused")), CatConnectRefused},
		{failed("No route to host"), CatUnreachable},
		{failed("Network is unreachable"), CatUnreachable},
		{failed("Connection timed out"), CatConnectTimeout},
		{failed("Name or service not known"), CatDNS},
		{failed("Temporary failure in name resolution"), CatDNS},
		// OpenSSH's answer when connect(2) failed at once
		// (serverloop.c:669 at 9.2p1).
		{failed("open failed"), CatUnreachable},
		// Lookalikes: the words inside another message, or another reason.
		{failed("connect to not-known.example timed out"), CatUnreachable},
		{&ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "Connection refused"}, CatUnreachable},
		{errors.New(`ssh: rejected: connect failed ("Connection refused")`), CatUnreachable},
	} {
		if got := jumpDialCategory(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}

// rejectAll dials an in-process x/crypto SSH server that accepts no
// authentication and returns the error x/crypto's client gives for it.
func rejectAll(t *testing.T) error {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	scfg := &ssh.ServerConfig{
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
			return nil, errors.New("no")
		},
	}
	scfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		a, err := l.Accept()
		if err != nil {
			return
		}
		defer a.Close()
		ssh.NewServerConn(a, scfg)
	}()
	b, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, _, _, err = ssh.NewClientConn(b, l.Addr().String(), &ssh.ClientConfig{
		User:            "u",
		Auth:            []ssh.AuthMethod{ssh.Password("wrong")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	})
	if err == nil {
		t.Fatal("authenticated")
	}
	return err
}

// TestHandshakeAuthCategory: x/crypto's own "unable to authenticate"
// (from a real x/crypto server that accepts nothing) is CatAuth; the same
// words in a ProxyCommand's stderr around a lost connection are not.
func TestHandshakeAuthCategory(t *testing.T) {
	ctx := context.Background()
	real := rejectAll(t)
	if got := handshakeCategory(ctx, real); got != CatAuth {
		t.Errorf("%v: %s, want %s", real, got, CatAuth)
	}
	if got := handshakeCategory(ctx, fmt.Errorf("ProxyCommand exited: %w", real)); got != CatAuth {
		t.Errorf("wrapped: %s, want %s", got, CatAuth)
	}
	lost := fmt.Errorf("ssh: handshake failed: %w", io.EOF)
	look := fmt.Errorf("ProxyCommand exited: %q: %w", "ssh: unable to authenticate, attempted methods [none], no supported methods remain", lost)
	if got := handshakeCategory(ctx, look); got != CatConnectionLost {
		t.Errorf("%v: %s, want %s", look, got, CatConnectionLost)
	}
	if isAuthExhausted(look) || !isAuthExhausted(real) {
		t.Errorf("isAuthExhausted: %v for the lookalike, %v for x/crypto's", isAuthExhausted(look), isAuthExhausted(real))
	}
}
