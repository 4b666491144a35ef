package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
	"github.com/fleetclaim/fleetclaim/lab"
)

// TestE2ESecretsNeverLeak claims a lab agent over REAL OpenSSH (login as a
// user whose sudo needs a password) while sampling every process's command
// line on the machine, and fails if the claim token or the sudo password
// appears in any of them, or in fleetclaim's stdout, stderr, results file,
// run history, --debug trace, or the lab Cloud's request log. A second host
// presents another host's key (an impersonator): it is never sent the token.
// (It lives here because only package remote may use the sshd harness.)
func TestE2ESecretsNeverLeak(t *testing.T) {
	env := sshdtest.New(t)
	srv := env.Start(t, sshdtest.Options{Name: "secrets"})
	impostor := env.Start(t, sshdtest.Options{Name: "impostor"})
	dir := t.TempDir()
	bin, labBin := filepath.Join(dir, "fleetclaim"), filepath.Join(dir, "fleetlab")
	for out, pkg := range map[string]string{bin: "../cmd/fleetclaim", labBin: "../cmd/fleetlab"} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	// Two lab agents; each real sshd host reaches one through netdata_prefix.
	labDir, err := os.MkdirTemp("", "fclab-secrets")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(labBin, "up", "--hosts", "2", "--dir", labDir).CombinedOutput(); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command(labBin, "down", "--dir", labDir).Run()
		os.RemoveAll(labDir)
	})
	// The login user reads the agent's files (as on a real host, where
	// /opt/netdata is world-readable); only root may write them.
	if err := os.Chmod(labDir, 0o755); err != nil {
		t.Fatal(err)
	}
	info, err := lab.ReadInfo(labDir)
	if err != nil {
		t.Fatal(err)
	}
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range info.Hosts {
		// The agent API would be the machine's own port 19999 over real
		// sshd: turn it off so the state is read with the lab's netdatacli.
		conf := filepath.Join(h.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf")
		f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("[web]\n    mode = none\n")
		f.Close()
		if out, err := exec.Command(filepath.Join(h.Prefix, "etc", "init.d", "netdata"), "restart").CombinedOutput(); err != nil {
			t.Fatalf("restart %s: %v\n%s", h.Name, err, out)
		}
	}
	sudoPW := filepath.Join(dir, "sudo-password")
	os.WriteFile(sudoPW, []byte(sshdtest.SudoPassword+"\n"), 0o600)
	// The impostor answers on its own address with the real host's key
	// expected: known_hosts pins the other server's key for it.
	kh := env.WriteKnownHosts(t, false, srv.KnownHostsLine(t, "ed25519"),
		fmt.Sprintf("[%s]:%d %s", impostor.Host, impostor.Port, srv.PublicKey(t, "ed25519")))
	inv := filepath.Join(dir, "inventory.yml")
	os.WriteFile(inv, []byte(fmt.Sprintf(`defaults:
  identity_files: [%s]
  known_hosts: [%s]
  url: %s
  ca_file: %s
  token_file: %s
  become: sudo
  sudo_password_file: %s
groups:
  real:
    rooms: [%s]
    hosts:
      real-host: {address: %s, port: %d, user: %s, netdata_prefix: %s}
      impostor: {address: %s, port: %d, user: %s, netdata_prefix: %s}
`, env.Key, kh, info.CloudURL, filepath.Join(labDir, "cloud-ca.pem"), info.TokenFile(), sudoPW, info.Rooms[0].ID,
		srv.Host, srv.Port, sshdtest.UserSudoPassword, info.Hosts[0].Prefix,
		impostor.Host, impostor.Port, sshdtest.UserSudoPassword, info.Hosts[1].Prefix)), 0o644)

	// Sample every process's command line for the whole run.
	secrets := map[string]string{"claim token": token, "sudo password": sshdtest.SudoPassword}
	var (
		stop     atomic.Bool
		samples  atomic.Int64
		sawClaim atomic.Bool
		leakMu   sync.Mutex
		leaks    []string
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		for !stop.Load() {
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range procs {
				b, err := os.ReadFile(p)
				if err != nil || len(b) == 0 {
					continue
				}
				if bytes.Contains(b, []byte(bin+"\x00claim")) {
					sawClaim.Store(true)
				}
				for what, s := range secrets {
					if bytes.Contains(b, []byte(s)) {
						leakMu.Lock()
						leaks = append(leaks, fmt.Sprintf("%s in %s: %q", what, p, bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
						leakMu.Unlock()
					}
				}
			}
			samples.Add(1)
		}
	})

	hist := filepath.Join(dir, "history")
	results := filepath.Join(dir, "results.jsonl")
	debugFile := filepath.Join(dir, "debug.log")
	cmd := exec.CommandContext(context.Background(), bin, "claim", "-i", inv, "--results", results, "--history", hist,
		"--debug-file", debugFile, "--wait", "10s", "--retries", "0", "--output", "json")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	// A debug trace on stderr too, for the grep below.
	cmd2 := exec.Command(bin, "verify", "-i", inv, "--debug", "--output", "json", "--no-history")
	cmd2.Env = cmd.Env
	var stdout2, stderr2 bytes.Buffer
	cmd2.Stdout, cmd2.Stderr = &stdout2, &stderr2
	cmd2.Run()
	stop.Store(true)
	wg.Wait()

	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("claim: %v (exit %d, want 1: the impostor fails)\n%s\n%s", runErr, code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, `"host": "real-host"`) || !strings.Contains(out, `"status": "claimed"`) ||
		!strings.Contains(out, `"category": "host-key-changed"`) {
		t.Fatalf("records:\n%s\n%s", out, stderr.String())
	}
	if !sawClaim.Load() || samples.Load() < 10 {
		t.Fatalf("the sampler never saw the claim run (%d samples)", samples.Load())
	}
	for _, l := range leaks {
		t.Error(l)
	}
	debug := mustReadFile(t, debugFile)
	// Through sudo every command is streamed ("exec"), so that its prompt
	// can be answered.
	if !strings.Contains(debug, "real-host: connect ") || !strings.Contains(debug, "real-host: exec \"sudo -S ") || !strings.Contains(stderr2.String(), "debug +") {
		t.Fatalf("debug trace incomplete:\n%s\n%s", debug, stderr2.String())
	}
	var histText strings.Builder
	filepath.WalkDir(hist, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			histText.WriteString(mustReadFile(t, p))
		}
		return nil
	})
	if histText.Len() == 0 {
		t.Fatal("no run history written")
	}
	places := map[string]string{
		"stdout": out, "stderr": stderr.String(), "results": mustReadFile(t, results), "history": histText.String(),
		"debug file": debug, "debug on stderr": stderr2.String(), "verify stdout": stdout2.String(),
		"lab Cloud request log": mustReadFile(t, filepath.Join(labDir, "cloud-requests.log")),
	}
	for place, text := range places {
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s appears in %s", what, place)
			}
		}
	}
	// The impostor was never sent the token: no claim.conf on its agent,
	// no claim for it in the lab Cloud.
	if _, err := os.Stat(filepath.Join(info.Hosts[1].Prefix, "opt", "netdata", "etc", "netdata", "claim.conf")); !os.IsNotExist(err) {
		t.Errorf("the impostor's agent has a claim.conf (%v)", err)
	}
	claims, err := info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || claims[0].MGUID != info.Hosts[0].MachineGUID {
		t.Errorf("lab Cloud claims %+v, want only the real host's", claims)
	}
}

func mustReadFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
