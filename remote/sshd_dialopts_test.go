package remote

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// TestSSHDConnectionOptions dials real OpenSSH servers the ways ssh_config
// can ask for: a user certificate on a server that trusts only its CA, a
// target's own IdentityAgent socket, a ProxyCommand (the real ssh -W), and
// a HostKeyAlias.
func TestSSHDConnectionOptions(t *testing.T) {
	e := sshdtest.New(t)
	var certOnly, plain *sshdtest.Server
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		certOnly = e.Start(t, sshdtest.Options{Name: "certonly", UserCertificates: true, NoAuthorizedKeys: true})
	}()
	go func() { defer wg.Done(); plain = e.Start(t, sshdtest.Options{Name: "plain"}) }()
	wg.Wait()
	known := e.WriteKnownHosts(t, false, certOnly.KnownHostsLine(t, "ed25519"), plain.KnownHostsLine(t, "ed25519"))
	target := func(s *sshdtest.Server) Target {
		return Target{Name: s.Name, Hop: Hop{User: sshdtest.UserNoSudo, Address: s.Host, Port: s.Port}, KnownHosts: []string{known}, ConnectTimeout: 5 * time.Second}
	}
	d := NewDialer(DialerOptions{})
	defer d.Close()
	whoami := func(t *testing.T, tg Target) {
		t.Helper()
		out, err := dialRun(t, d, tg, "id -un")
		if err != nil {
			t.Fatal(err)
		}
		if out != sshdtest.UserNoSudo {
			t.Fatalf("logged in as %q", out)
		}
	}

	t.Run("CertificateOnly", func(t *testing.T) {
		dir := t.TempDir()
		key := filepath.Join(dir, "id")
		for _, suffix := range []string{"", ".pub"} {
			b, err := os.ReadFile(e.Key + suffix)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(key+suffix, b, 0o600)
		}
		tg := target(certOnly)
		tg.IdentityFiles = []string{key}
		_, err := dialRun(t, d, tg, "true")
		wantCategory(t, err, CatAuth)
		// Listed as CertificateFile, then found as KEY-cert.pub.
		tg.CertificateFiles = []string{e.SignUserKey(t, key, filepath.Join(dir, "elsewhere.pub"), sshdtest.UserNoSudo)}
		whoami(t, tg)
		tg.CertificateFiles = nil
		e.SignUserKey(t, key, "", sshdtest.UserNoSudo)
		whoami(t, tg)
		// A certificate for another principal is refused by sshd.
		os.Remove(key + "-cert.pub")
		tg.CertificateFiles = []string{e.SignUserKey(t, key, filepath.Join(dir, "other.pub"), "someone-else")}
		_, err = dialRun(t, d, tg, "true")
		wantCategory(t, err, CatAuth)
	})

	t.Run("IdentityAgent", func(t *testing.T) {
		sock := e.StartAgent(t, e.AgentKey)
		tg := target(plain)
		tg.IdentityAgent = sock
		whoami(t, tg)
		tg.IdentityAgent = "none"
		_, err := dialRun(t, d, tg, "true")
		wantCategory(t, err, CatAuth)
	})

	t.Run("ProxyCommand", func(t *testing.T) {
		dir := t.TempDir()
		mark := filepath.Join(dir, "ran")
		tg := target(plain)
		tg.IdentityFiles = []string{e.Key}
		tg.ProxyCommand = "sh -c 'echo %h %p %r > " + mark + "; exec ssh -F /dev/null -i " + e.Key +
			" -o BatchMode=yes -o UserKnownHostsFile=" + known + " -o StrictHostKeyChecking=yes -p %p -W %h:%p %r@%h'"
		whoami(t, tg)
		b, err := os.ReadFile(mark)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(string(b)), plain.Host+" "+strconv.Itoa(plain.Port)+" "+sshdtest.UserNoSudo; got != want {
			t.Errorf("ProxyCommand tokens gave %q, want %q", got, want)
		}
	})

	t.Run("HostKeyAlias", func(t *testing.T) {
		tg := target(plain)
		tg.IdentityFiles = []string{e.Key}
		tg.KnownHosts = []string{e.WriteKnownHosts(t, true, "fleet-alias "+plain.PublicKey(t, "ed25519"))}
		_, err := dialRun(t, d, tg, "true")
		wantCategory(t, err, CatHostKeyUnknown)
		tg.HostKeyAlias = "fleet-alias"
		whoami(t, tg)
	})
}
