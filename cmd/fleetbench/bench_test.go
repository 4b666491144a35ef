package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	cases := []struct {
		in          []float64
		med, lo, hi float64
	}{
		{nil, 0, 0, 0},
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	}
	for _, c := range cases {
		m, lo, hi := median(c.in)
		if m != c.med || lo != c.lo || hi != c.hi {
			t.Errorf("median(%v) = %v [%v–%v], want %v [%v–%v]", c.in, m, lo, hi, c.med, c.lo, c.hi)
		}
	}
}

// The no-API inventory names rooms by the ids the lab writes after them,
// and drops the Space and the API token; everything else is kept.
func TestWriteNoAPIInventory(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yml")
	in := `defaults:
  user: root
  space: fleetclaim-lab
  api_token_file: /lab/api-token
groups:
  web:
    rooms: [production, web servers]  # 11111111-1111-4111-8111-111111111111, 22222222-2222-4222-8222-222222222222
    hosts:
      lab-001: {address: 127.0.0.1, port: 41729}
`
	if err := os.WriteFile(inv, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fleet{inventory: inv}
	if err := f.writeNoAPIInventory(&config{dir: dir}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.noAPIInventory)
	if err != nil {
		t.Fatal(err)
	}
	want := `defaults:
  user: root
groups:
  web:
    rooms: [11111111-1111-4111-8111-111111111111, 22222222-2222-4222-8222-222222222222]
    hosts:
      lab-001: {address: 127.0.0.1, port: 41729}
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// The claim script carries the token in a here-document (it travels on
// stdin), never as an argument of a command.
func TestClaimScriptTokenOnlyInHereDocuments(t *testing.T) {
	const token = "tok-123-secret"
	for _, method := range []string{"v1", "v2"} {
		s := claimScript(method, "https://cloud.example", token, "room-1", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
		inDoc := false
		found := false
		for l := range strings.Lines(s) {
			l = strings.TrimSpace(l)
			switch {
			case strings.Contains(l, "<<'EOF_"):
				inDoc = true
			case strings.HasPrefix(l, "EOF_"):
				inDoc = false
			case strings.Contains(l, token):
				if !inDoc {
					t.Errorf("%s: token outside a here-document: %q", method, l)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the script does not carry the token", method)
		}
	}
}

// TestDelayProxy: what goes through the delaying proxy arrives whole and in
// order in both directions, and a half-close reaches the other side.
func TestDelayProxy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client half-closes
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	port, err := startDelayProxy(ctx, l.Addr().String(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	go func() {
		for off := 0; off < len(want); off += 1000 {
			c.Write(want[off:min(off+1000, len(want))])
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes back, want the %d sent, in order", len(got), len(want))
	}
}
