package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// refusingAgent is a keyring that refuses to sign while refuse is set.
type refusingAgent struct {
	agent.Agent
	refuse atomic.Bool
}

func (r *refusingAgent) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	if r.refuse.Load() {
		return nil, errors.New("refused")
	}
	return r.Agent.Sign(key, data)
}

// TestAgentPoolDropsBrokenConnection: a connection to ssh-agent that broke
// (the agent restarted) is not handed out again, so the next signature
// opens a new one; a connection whose agent refused one signature stays.
func TestAgentPoolDropsBrokenConnection(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ring := &refusingAgent{Agent: agent.NewKeyring()}
	if err := ring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// The first connection lists the keys, then the agent "restarts".
			if conns.Add(1) == 1 {
				go func() {
					agent.ServeAgent(onlyList{ring, c}, c)
				}()
				continue
			}
			go agent.ServeAgent(ring, c)
		}
	}()
	p := newAgentPool(sock, 1)
	defer p.close()
	keys, err := p.keys()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if _, err := keys[0].Sign(rand.Reader, []byte("data")); err == nil {
		t.Fatal("signed over a closed connection")
	}
	ring.refuse.Store(true)
	if _, err := keys[0].Sign(rand.Reader, []byte("data")); err == nil || !isAgentRefusal(errors.Unwrap(err)) {
		t.Fatalf("refusal: %v", err)
	}
	ring.refuse.Store(false)
	if _, err := keys[0].Sign(rand.Reader, []byte("data")); err != nil {
		t.Fatalf("after a refusal: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections to the agent, want 2 (the broken one replaced, the refusing one kept)", n)
	}
}

// onlyList answers List; a Sign ends the connection unanswered, as an
// agent that went away does.
type onlyList struct {
	agent.Agent
	c net.Conn
}

func (o onlyList) Sign(ssh.PublicKey, []byte) (*ssh.Signature, error) {
	o.c.Close()
	return nil, errors.New("gone")
}
