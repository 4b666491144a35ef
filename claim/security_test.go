package claim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// The claim scripts run as root and write into cloud.d, a directory the
// agent's user owns. These tests play that user: they leave links where the
// scripts write, and check that root follows none of them.

const victimContent = "root-owned, not the agent's\n"

// needRoot skips a test that needs root's chown to show what root does.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the claim script's chown is what is tested")
	}
}

// agentUser is a less privileged user the fake agent runs as.
const agentUser = "nobody"

// victim is a root-owned directory holding a root-owned file, outside the
// install: what the agent's user would like to own.
func victim(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "shadow")
	write(t, file, victimContent, 0o600)
	return dir, file
}

// checkVictim fails when the victim's directory or file changed owner or
// content, or when something was written into the directory.
func checkVictim(t *testing.T, dir, file string) {
	t.Helper()
	for _, p := range []string{dir, file} {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 0 {
			t.Errorf("%s now belongs to uid %d: root followed the agent's link", p, uid)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != victimContent {
		t.Errorf("%s was overwritten: %q", file, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("root wrote into %s: %v", dir, names)
	}
}

func caFile(t *testing.T) string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	write(t, ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0o644)
	return ca
}

func linkCloudD(t *testing.T, root, to string) string {
	t.Helper()
	cloudD := filepath.Join(root, "opt/netdata/var/lib/netdata/cloud.d")
	os.RemoveAll(cloudD)
	if err := os.Symlink(to, cloudD); err != nil {
		t.Fatal(err)
	}
	return cloudD
}

// TestClaimConfRefusesLinkedCloudD: with cloud.d a link to a root-owned
// directory, a claim with ca_file refuses it by name and gives nothing to
// the agent's user.
func TestClaimConfRefusesLinkedCloudD(t *testing.T) {
	needRoot(t)
	root := fakeInstall(t, agentUser)
	dir, file := victim(t)
	cloudD := linkCloudD(t, root, dir)
	c := New(localConnector{}, Options{Mode: ModeClaim, Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	res := c.Do(context.Background(), testHost(root, caFile(t)))
	checkVictim(t, dir, file)
	if res.Status != StatusFailed || res.Category != CatUnsafePath || !strings.Contains(res.Message, cloudD) || res.Remedy == "" {
		t.Fatalf("got %s [%s] %q, want failed [%s] naming %s", res.Status, res.Category, res.Message, CatUnsafePath, cloudD)
	}
}

// TestClaimScriptRefusesLinkedCloudD: the same on a v1 agent, whose claim
// writes cloud.d/token.
func TestClaimScriptRefusesLinkedCloudD(t *testing.T) {
	needRoot(t)
	root := fakeV1Install(t, agentUser, 0, "Node was successfully claimed.")
	dir, file := victim(t)
	cloudD := linkCloudD(t, root, dir)
	c := New(localConnector{}, Options{Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
	res := c.Do(context.Background(), testHost(root, caFile(t)))
	checkVictim(t, dir, file)
	if res.Status != StatusFailed || res.Category != CatUnsafePath || !strings.Contains(res.Message, cloudD) {
		t.Fatalf("got %s [%s] %q, want failed [%s] naming %s", res.Status, res.Category, res.Message, CatUnsafePath, cloudD)
	}
	if _, err := os.Stat(filepath.Join(root, "opt/netdata/args")); err == nil {
		t.Error("netdata-claim.sh ran through the linked cloud.d")
	}
}

// racingRM is an rm that plays the agent's user winning a race: after it
// removes a path in cloud.d, a link to the victim appears there.
const racingRM = `#!/bin/sh
/bin/rm "$@"; rc=$?
for a in "$@"; do
  case "$a" in */cloud.d/*) ln -s "$FLEETCLAIM_TEST_VICTIM" "$a" 2>/dev/null ;; esac
done
exit $rc
`

// withRacingRM puts racingRM first in PATH for the claim's scripts.
func withRacingRM(t *testing.T, victimFile string) {
	t.Helper()
	bin := t.TempDir()
	write(t, filepath.Join(bin, "rm"), racingRM, 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FLEETCLAIM_TEST_VICTIM", victimFile)
}

// TestClaimScriptTokenFileRace: a link that appears at cloud.d/token (or a
// temporary name there) between the script's check and its write is not
// followed: the token never lands in the victim, which stays root's.
func TestClaimScriptTokenFileRace(t *testing.T) {
	needRoot(t)
	root := fakeV1Install(t, agentUser, 0, "Node was successfully claimed.")
	dir, file := victim(t)
	cloudD := filepath.Join(root, "opt/netdata/var/lib/netdata/cloud.d")
	os.MkdirAll(cloudD, 0o770)
	// Links left at the token's and the chain's names by an earlier run.
	os.Symlink(file, filepath.Join(cloudD, "token"))
	withRacingRM(t, file)
	c := New(localConnector{}, Options{Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
	res := c.Do(context.Background(), testHost(root, caFile(t)))
	checkVictim(t, dir, file)
	if b, _ := os.ReadFile(file); strings.Contains(string(b), "s3cret") {
		t.Fatal("the token was written into the victim")
	}
	if res.Status == StatusClaimed {
		return
	}
	if res.Category != CatUnsafePath || !strings.Contains(res.Message, filepath.Join(cloudD, "token")) {
		t.Fatalf("got %s [%s] %q, want claimed, or [%s] naming cloud.d/token", res.Status, res.Category, res.Message, CatUnsafePath)
	}
}

// recordingMV is an mv that logs its arguments, a relative one as the
// path it names from the directory mv runs in, to see where root made the
// files it moves into place.
const recordingMV = `#!/bin/sh
for a do
  case $a in
  /*|-*) printf '%s\n' "$a" ;;
  *) printf '%s\n' "$PWD/$a" ;;
  esac
done >> "$FLEETCLAIM_TEST_MVLOG"
exec /bin/mv "$@"
`

// TestClaimConfCAChainTempNotInCloudD: root makes the CA chain's temporary
// file in a directory only root writes, not in cloud.d (where the agent's
// user could have put a link at its name, or swap one in before the write),
// and the chain ends up a regular file of root's writing.
func TestClaimConfCAChainTempNotInCloudD(t *testing.T) {
	needRoot(t)
	root := fakeInstall(t, agentUser)
	cloudD := filepath.Join(root, "opt/netdata/var/lib/netdata/cloud.d")
	os.MkdirAll(cloudD, 0o770)
	// An old chain to be replaced, so the script writes a new one.
	write(t, filepath.Join(cloudD, "trusted.pem"), "old\n", 0o644)
	bin := t.TempDir()
	write(t, filepath.Join(bin, "mv"), recordingMV, 0o755)
	mvlog := filepath.Join(t.TempDir(), "mv.log")
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FLEETCLAIM_TEST_MVLOG", mvlog)
	c := New(localConnector{}, Options{Mode: ModeClaim, Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	res := c.Do(context.Background(), testHost(root, caFile(t)))
	if res.Status != StatusClaimed {
		t.Fatalf("%+v", res)
	}
	log, _ := os.ReadFile(mvlog)
	if !strings.Contains(string(log), filepath.Join(cloudD, "trusted.pem")) {
		t.Fatalf("the chain was not moved into place: mv log %q", log)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if strings.HasPrefix(l, cloudD+"/") && l != filepath.Join(cloudD, "trusted.pem") {
			t.Errorf("root made %s in cloud.d, a directory the agent's user writes", l)
		}
	}
	st, err := os.Lstat(filepath.Join(cloudD, "trusted.pem"))
	if err != nil || !st.Mode().IsRegular() || st.Sys().(*syscall.Stat_t).Uid == 0 {
		t.Fatalf("trusted.pem: %v %v (want a regular file given to the agent)", st, err)
	}
}

const credProxy = "http://fcuser:pr0xy-s3cret@proxy.example:3128"

// TestClaimScriptProxyCredentialsOffArgv: a proxy with credentials reaches
// a v1 netdata-claim.sh (and its curl or wget) through the environment,
// never its arguments.
func TestClaimScriptProxyCredentialsOffArgv(t *testing.T) {
	root := fakeV1Install(t, currentUser(t), 0, "Node was successfully claimed.")
	nd := filepath.Join(root, "opt/netdata")
	h := testHost(root, "")
	h.Claim.Proxy = inventory.NewProxy(credProxy)
	c := New(localConnector{}, Options{Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
	res := c.Do(context.Background(), h)
	if res.Status != StatusClaimed {
		t.Fatalf("%+v", res)
	}
	args, _ := os.ReadFile(filepath.Join(nd, "args"))
	if strings.Contains(string(args), "pr0xy-s3cret") || strings.Contains(string(args), "-noproxy") {
		t.Errorf("netdata-claim.sh's arguments: %q", args)
	}
	if env, _ := os.ReadFile(filepath.Join(nd, "env-proxy")); strings.TrimSpace(string(env)) != credProxy {
		t.Errorf("netdata-claim.sh saw https_proxy=%q, want the proxy", env)
	}
	for _, p := range res.Plan {
		if strings.Contains(p, "pr0xy-s3cret") {
			t.Errorf("plan line %q", p)
		}
	}
}

// TestClaimConfProxyCredentialsNotInNetdataConf: a proxy with credentials
// goes into claim.conf (private, like the token), never into netdata.conf,
// which every user may read.
func TestClaimConfProxyCredentialsNotInNetdataConf(t *testing.T) {
	root := fakeInstall(t, currentUser(t))
	h := testHost(root, "")
	h.Claim.Proxy = inventory.NewProxy(credProxy)
	c := New(localConnector{}, Options{Mode: ModeClaim, Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	res := c.Do(context.Background(), h)
	if res.Status != StatusClaimed {
		t.Fatalf("%+v", res)
	}
	conf := filepath.Join(root, "opt/netdata/etc/netdata")
	if b, _ := os.ReadFile(filepath.Join(conf, "netdata.conf")); strings.Contains(string(b), "pr0xy-s3cret") {
		t.Errorf("netdata.conf holds the proxy's credentials:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(conf, "claim.conf")); !strings.Contains(string(b), "    proxy = "+credProxy+"\n") {
		t.Errorf("claim.conf lacks the proxy:\n%s", b)
	}
	warned := false
	for _, w := range res.Warnings {
		warned = warned || strings.Contains(w, "netdata.conf")
		if strings.Contains(w, "pr0xy-s3cret") {
			t.Errorf("warning %q", w)
		}
	}
	if !warned {
		t.Errorf("no warning that netdata.conf was left alone: %q", res.Warnings)
	}
}

// hangingClaimV1 is a netdata-claim.sh that says it started, then waits on
// a fifo that no one writes until the test ends.
const hangingClaimV1 = `#!/bin/sh
base=$(cd "$(dirname "$0")/.." && pwd)
: > "$base/started"
read -r _ < "$base/fifo"
`

// TestClaimScriptCanceledRemovesToken: a v1 claim cut off by its context
// (--timeout) leaves no cloud.d/token behind.
func TestClaimScriptCanceledRemovesToken(t *testing.T) {
	root := fakeV1Install(t, currentUser(t), 0, "")
	nd := filepath.Join(root, "opt/netdata")
	write(t, filepath.Join(nd, "bin/netdata-claim.sh"), hangingClaimV1, 0o755)
	fifo := filepath.Join(nd, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Let the fake script go (O_NONBLOCK: no reader is no wait).
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Result, 1)
	c := New(localConnector{}, Options{Wait: time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
	go func() { done <- c.Do(ctx, testHost(root, "")) }()
	waitFor(t, filepath.Join(nd, "started"))
	tok := filepath.Join(nd, "var/lib/netdata/cloud.d/token")
	if _, err := os.Stat(tok); err != nil {
		t.Fatalf("the token file is not there while the script runs: %v", err)
	}
	cancel()
	var res Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the claim did not end after its context")
	}
	if res.Status == StatusClaimed {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Lstat(tok); !os.IsNotExist(err) {
		t.Fatalf("cloud.d/token left behind after the claim was cut off (%v): %s [%s] %s", err, res.Status, res.Category, res.Message)
	}
}

// waitFor waits, up to a deadline, until path exists.
func waitFor(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClaimScriptClaimedIDIsUUID: the claimed id a v1 claim reads back
// from cloud.d/claimed_id (the agent's user's file) is recorded only when
// it is a UUID (here a refused claim, so that only that read is recorded).
func TestClaimScriptClaimedIDIsUUID(t *testing.T) {
	root := fakeV1Install(t, currentUser(t), 0, "")
	nd := filepath.Join(root, "opt/netdata")
	write(t, filepath.Join(nd, "bin/netdata-claim.sh"), `#!/bin/sh
lib="$(cd "$(dirname "$0")/.." && pwd)/var/lib/netdata"
echo 'root:$y$j9T$hash:19000:0:99999:7:::' > "$lib/cloud.d/claimed_id"
rm -f "$lib/cloud.d/token"
echo ErrForbidden
exit 12
`, 0o755)
	c := New(localConnector{}, Options{Wait: 200 * time.Millisecond, PollInterval: 10 * time.Millisecond, Token: tokenOf("v1-s3cret-token")})
	res := c.Do(context.Background(), testHost(root, ""))
	if res.Category != CatTokenRejected || strings.Contains(res.ClaimedID, "j9T") || strings.Contains(res.Message, "j9T") {
		t.Fatalf("[%s] recorded %q: %s", res.Category, res.ClaimedID, res.Message)
	}
}
