package claim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/remote"
)

// The classifiers' tests on real outputs: the captures of testdata/real,
// which internal/agenttest's TestRealCaptures took from the real
// v2.11.0 agent and Debian's real netdata-claim.sh, and keeps checking
// against them (testdata/real/README.md).

// realCapture is one capture file (format: internal/agenttest/capture.go).
type realCapture struct {
	Command        string
	Exit           int
	Stdout, Stderr string
}

// readCapture reads testdata/real/<name>.txt; a capture that is missing or
// malformed fails the test.
func readCapture(t *testing.T, name string) realCapture {
	t.Helper()
	p := filepath.Join("testdata", "real", name+".txt")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var c realCapture
	s := string(b)
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			t.Fatalf("%s: no stdout section", p)
		}
		if strings.HasPrefix(line, "--- stdout ") {
			break
		}
		s = rest
		if v, ok := strings.CutPrefix(line, "# command: "); ok {
			c.Command = v
		}
		if v, ok := strings.CutPrefix(line, "# exit: "); ok {
			if c.Exit, err = strconv.Atoi(v); err != nil {
				t.Fatalf("%s: exit: %v", p, err)
			}
		}
	}
	if c.Stdout, s, err = captureSection(s, "stdout"); err == nil {
		c.Stderr, s, err = captureSection(s, "stderr")
	}
	if err != nil || s != "--- end\n" {
		t.Fatalf("%s: malformed capture (%v)", p, err)
	}
	return c
}

func captureSection(s, name string) (string, string, error) {
	line, rest, _ := strings.Cut(s, "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(line, "--- "+name+" "))
	if err != nil || len(rest) < n+1 || rest[n] != '\n' {
		return "", "", errors.New("bad " + name + " section")
	}
	return rest[:n], rest[n+1:], nil
}

// reloadScriptOutput is what the claim.conf script prints around the
// agent's answer (buildClaimConfScript: written=1, reload-rc, reload-out
// lines), for a captured reload-claiming-state.
func reloadScriptOutput(c realCapture) remote.Result {
	var b strings.Builder
	b.WriteString("written=1\nreload-rc=" + strconv.Itoa(c.Exit) + "\n")
	out := strings.TrimSuffix(c.Stdout+c.Stderr, "\n")
	for _, l := range strings.Split(out, "\n") {
		b.WriteString("reload-out=" + l + "\n")
	}
	return remote.Result{Stdout: []byte(b.String())}
}

// TestReloadRealCaptures: the category fleetclaim gives each real answer of
// the v2 agent's reload-claiming-state (readReload, then reloadFailure).
// The keyword-path captures come from an agent whose var lib dir holds
// "ssl", "tls", "x509", "certificate", "token", "room", "proxy",
// "timeout", "refused", "resolve" and 403/409/500/503: the agent's paths
// must not change the category.
func TestReloadRealCaptures(t *testing.T) {
	cases := map[string]Category{ // capture: category ("" = claimed)
		"v2.11.0/reload-403":                                 CatTokenRejected,
		"v2.11.0/reload-409":                                 CatAlreadyClaimedElse,
		"v2.11.0/reload-422-ErrInvalidNodeID":                CatInvalidNode,
		"v2.11.0/reload-422-ErrInvalidNodeName":              CatInvalidNode,
		"v2.11.0/reload-422-ErrInvalidPublicKey":             CatInvalidNode,
		"v2.11.0/reload-422-ErrInvalidRoomID":                CatRoomInvalid,
		"v2.11.0/reload-422-unknown-key":                     CatClaimFailed,
		"v2.11.0/reload-422-empty":                           CatClaimFailed,
		"v2.11.0/reload-500":                                 CatCloudError,
		"v2.11.0/reload-503":                                 CatCloudError,
		"v2.11.0/reload-504":                                 CatCloudError,
		"v2.11.0/reload-connect-failed":                      CatCloudUnreachable,
		"v2.11.0/reload-untrusted-certificate":               CatCertificate,
		"v2.11.0/reload-unclaimed":                           CatClaimFailed,
		"v2.11.0/reload-no-agent":                            CatAgentNotRunning,
		"v2.11.0/reload-204-offline":                         "",
		"v2.11.0/reload-claimed-again":                       "",
		"v2.11.0/keyword-path/reload-connect-failed":         CatCloudUnreachable,
		"v2.11.0/keyword-path/reload-proxy-failed":           CatCloudUnreachable,
		"v2.11.0/keyword-path/reload-422-ErrInvalidNodeName": CatInvalidNode,
	}
	for name, want := range cases {
		c := readCapture(t, name)
		r := &hostRun{res: &Result{}}
		err := r.readReload(reloadScriptOutput(c), "/opt/netdata/bin/netdatacli", "")
		var got Category
		if err != nil {
			got = CategoryOf(err)
		}
		if got != want {
			t.Errorf("%s: category %q (%v), want %q", name, got, err, want)
		}
	}
}

// TestParseReloadRealCaptures: the states ParseReload reads from the real
// agent's answers.
func TestParseReloadRealCaptures(t *testing.T) {
	cases := []struct {
		name, status string
		claimed      bool
		reason       string // a prefix of the reason
	}{
		{"v2.11.0/reload-unclaimed", "available", false, "Agent is not claimed yet"},
		{"v2.11.0/reload-403", "available", false, "Failed: token is expired, not found, or invalid"},
		{"v2.11.0/reload-connect-failed", "available", false, "Request failed with error: Couldn't connect to server\nproxy: 'env',"},
		{"v2.11.0/reload-204-offline", "offline", true, ""},
		{"v2.11.0/reload-claimed-again", "offline", true, ""},
	}
	for _, tc := range cases {
		c := readCapture(t, tc.name)
		st, err := ParseReload(c.Stdout)
		if err != nil || st.Status != tc.status || st.Claimed != tc.claimed || st.Online || !strings.HasPrefix(st.Reason, tc.reason) {
			t.Errorf("%s: %+v, %v; want %s claimed=%v reason %q...", tc.name, st, err, tc.status, tc.claimed, tc.reason)
		}
		if tc.status == "offline" && st.Reason == "" {
			t.Errorf("%s: the offline reason was lost: %+v", tc.name, st)
		}
	}
	// While the agent starts up it answers every command with this, exit 0
	// (commands.c:682-686 v2.11.0): not a claim outcome, try again.
	c := readCapture(t, "v2.11.0/reload-initializing")
	if _, err := ParseReload(c.Stdout); !errors.Is(err, ErrAgentInitializing) {
		t.Errorf("reload-initializing: %v, want ErrAgentInitializing", err)
	}
}

// claimedIDOf reads the claimed id the real agent wrote into cloud.conf in
// the same capture run.
func claimedIDOf(t *testing.T) string {
	t.Helper()
	c := readCapture(t, "v2.11.0/cloud.conf")
	for _, l := range strings.Split(c.Stdout, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "claimed_id = "); ok {
			return v
		}
	}
	t.Fatal("no claimed_id in the cloud.conf capture")
	return ""
}

// TestParseACLKStateJSONRealCaptures reads the real agent's aclk-state json
// before and after a claim accepted while its link is down.
func TestParseACLKStateJSONRealCaptures(t *testing.T) {
	st, err := ParseACLKStateJSON([]byte(readCapture(t, "v2.11.0/aclk-state-json-unclaimed").Stdout))
	if err != nil || st.Claimed || st.Online || st.ClaimedID != "" || st.Status != "available" || st.URL != "https://app.netdata.cloud" {
		t.Errorf("unclaimed: %+v, %v", st, err)
	}
	id := claimedIDOf(t)
	st, err = ParseACLKStateJSON([]byte(readCapture(t, "v2.11.0/aclk-state-json-claimed-offline").Stdout))
	if err != nil || !st.Claimed || st.Online || st.ClaimedID != id || st.Status != "offline" || !strings.HasPrefix(st.URL, "https://127.0.0.1:") {
		t.Errorf("claimed offline: %+v, %v (claimed id in cloud.conf %s)", st, err, id)
	}
}

// TestOnlineRealCaptures reads the real agent's state once online through
// the stand-in's link (testdata/real/v2.11.0/online): every reader says
// online, with the same claimed id.
func TestOnlineRealCaptures(t *testing.T) {
	st, err := ParseReload(readCapture(t, "v2.11.0/online/reload-online").Stdout)
	if err != nil || st.Status != "online" || !st.Claimed || !st.Online {
		t.Errorf("reload: %+v, %v", st, err)
	}
	aclk, err := ParseACLKStateJSON([]byte(readCapture(t, "v2.11.0/online/aclk-state-json-online").Stdout))
	if err != nil || aclk.Status != "online" || !aclk.Claimed || !aclk.Online || aclk.ClaimedID == "" {
		t.Errorf("aclk-state json: %+v, %v", aclk, err)
	}
	v2, err := ParseInfoV2([]byte(readCapture(t, "v2.11.0/online/api-v2-info-online").Stdout))
	if err != nil || v2.Status != "online" || !v2.Online || v2.ClaimedID != aclk.ClaimedID || v2.Since.IsZero() {
		t.Errorf("/api/v2/info: %+v, %v (aclk-state claimed id %s)", v2, err, aclk.ClaimedID)
	}
	v1, err := ParseInfoV1([]byte(readCapture(t, "v2.11.0/online/api-v1-info-online").Stdout))
	if err != nil || v1.Status != "online" || !v1.Online || !v1.Claimed {
		t.Errorf("/api/v1/info: %+v, %v", v1, err)
	}
}

// TestParseInfoRealCaptures reads the real agent's /api/v2/info and
// /api/v1/info in each state.
func TestParseInfoRealCaptures(t *testing.T) {
	id := claimedIDOf(t)
	cases := []struct {
		name, status, claimedID string
		claimed                 bool
		reasonCat               Category // the category of the reason, "" = not a failure
	}{
		{"v2.11.0/api-v2-info-unclaimed", "available", "", false, CatClaimFailed},
		{"v2.11.0/api-v2-info-connect-failed", "available", "", false, CatCloudUnreachable},
		{"v2.11.0/api-v2-info-claimed-offline", "offline", id, true, ""},
	}
	for _, tc := range cases {
		st, err := ParseInfoV2([]byte(readCapture(t, tc.name).Stdout))
		if err != nil || st.Status != tc.status || st.Claimed != tc.claimed || st.Online || st.ClaimedID != tc.claimedID || st.Since.IsZero() {
			t.Errorf("%s: %+v, %v", tc.name, st, err)
			continue
		}
		if tc.reasonCat != "" {
			if got := CategoryOf(reloadFailure(st.Reason)); got != tc.reasonCat {
				t.Errorf("%s: reason %q is %s, want %s", tc.name, st.Reason, got, tc.reasonCat)
			}
		}
	}
	for name, claimed := range map[string]bool{"v2.11.0/api-v1-info-unclaimed": false, "v2.11.0/api-v1-info-claimed-offline": true} {
		st, err := ParseInfoV1([]byte(readCapture(t, name).Stdout))
		if err != nil || st.Claimed != claimed || st.Online || st.Keys == nil || st.CloudAvailable == nil || !*st.CloudAvailable ||
			st.CloudEnabled == nil || !*st.CloudEnabled || st.Keys.ACLKAvailable == nil || *st.Keys.ACLKAvailable {
			t.Errorf("%s: %+v, %v", name, st, err)
		}
	}
}

// TestClaimScriptRealCaptures: the category of every exit code Debian's
// real netdata-claim.sh produced, with the text it printed (fleetclaim
// reads stdout and stderr together: 2>&1). Exit 0 and 5 are claims.
func TestClaimScriptRealCaptures(t *testing.T) {
	cases := map[string]Category{
		"v1.37.1/exit1-unknown-argument":        CatClaimFailed,
		"v1.37.1/exit2-claiming-dir":            CatWriteFailed,
		"v1.37.1/exit3-built-without-cloud":     CatUnsupportedInstall,
		"v1.37.1/exit3-no-curl":                 CatCommandNotFound,
		"v1.37.1/exit6-wrong-user":              CatNoPrivilege,
		"v1.37.1/exit7-connect-failed":          CatCloudUnreachable,
		"v1.37.1/exit7-untrusted-certificate":   CatCertificate,
		"v1.37.1/exit7-422-no-key":              CatCloudError,
		"v1.37.1/exit7-422-unknown-key":         CatCloudError,
		"v1.37.1/exit8-ErrInvalidNodeID":        CatInvalidNode,
		"v1.37.1/exit9-ErrInvalidNodeName":      CatInvalidNode,
		"v1.37.1/exit10-ErrInvalidRoomID":       CatRoomInvalid,
		"v1.37.1/exit11-ErrInvalidPublicKey":    CatInvalidNode,
		"v1.37.1/exit12-ErrForbidden":           CatTokenRejected,
		"v1.37.1/exit13-ErrAlreadyClaimed":      CatAlreadyClaimedElse,
		"v1.37.1/exit14-ErrProcessingClaim":     CatCloudError,
		"v1.37.1/exit15-ErrInternalServerError": CatCloudError,
		"v1.37.1/exit16-ErrGatewayTimeout":      CatCloudError,
		"v1.37.1/exit17-ErrServiceUnavailable":  CatCloudError,
		"v1.37.1/exit18-guid-unreadable":        CatNoMachineGUID,
	}
	for name, want := range cases {
		c := readCapture(t, name)
		err := claimScriptFailure(c.Exit, c.Stdout+c.Stderr)
		if got := CategoryOf(err); got != want {
			t.Errorf("%s (exit %d): category %q (%v), want %q", name, c.Exit, got, err, want)
		}
	}
	for _, name := range []string{"v1.37.1/exit0-noreload", "v1.37.1/exit5-agent-not-told"} {
		if c := readCapture(t, name); c.Exit != 0 && c.Exit != 5 {
			t.Errorf("%s: exit %d", name, c.Exit)
		}
	}
}

// TestClaimScriptCategoryNotFromPaths: the words of a path or a URL in the
// script's output (the cloud url, the var lib dir) do not make a category.
// The text is the real exit-7 capture with its URL replaced by one full of
// such words.
func TestClaimScriptCategoryNotFromPaths(t *testing.T) {
	c := readCapture(t, "v1.37.1/exit7-connect-failed")
	msg := c.Stdout + c.Stderr
	i := strings.Index(msg, "https://127.0.0.1:")
	j := i + strings.IndexAny(msg[i:], ",\n ")
	hostile := strings.ReplaceAll(msg, msg[i:j], "https://openssl-old-version.hostname-validation.example/ssl/certificate")
	if got := CategoryOf(claimScriptFailure(c.Exit, hostile)); got != CatCloudUnreachable {
		t.Errorf("category %q for\n%s", got, hostile)
	}
}

// TestReloadStoppedV1AgentCapture: Debian 12's 1.37.1 netdatacli with its
// agent stopped (../remote/testdata/probe/debian12-netdatacli-agent-stopped.txt:
// its output, then "exit=255") is an agent that is not running, and the
// message carries netdatacli's words.
func TestReloadStoppedV1AgentCapture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "remote", "testdata", "probe", "debian12-netdatacli-agent-stopped.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text, exit, ok := strings.Cut(strings.TrimSuffix(string(b), "\n"), "\nexit=")
	code, cerr := strconv.Atoi(exit)
	if !ok || cerr != nil {
		t.Fatalf("malformed capture %q", b)
	}
	r := &hostRun{res: &Result{}}
	err = r.readReload(reloadScriptOutput(realCapture{Exit: code, Stdout: text + "\n"}), "/usr/sbin/netdatacli", "")
	if CategoryOf(err) != CatAgentNotRunning || !strings.Contains(err.Error(), "Make sure the netdata service is running") {
		t.Errorf("exit %d: %v (%s)", code, err, CategoryOf(err))
	}
}

// TestClaimWaitsWhileAgentInitializes: an agent that has just started
// answers reload-claiming-state with "Agent is initializing" (exit 0) and
// ping with exit 1 (testdata/real/v2.11.0/reload-initializing,
// ping-initializing) and reloads nothing. The claim waits for ping to say
// ready and asks again, instead of failing.
func TestClaimWaitsWhileAgentInitializes(t *testing.T) {
	me := currentUser(t)
	root := fakeInstall(t, me)
	cli := filepath.Join(root, "opt/netdata/bin/netdatacli")
	if err := os.Rename(cli, cli+".ready"); err != nil {
		t.Fatal(err)
	}
	initializing := readCapture(t, "v2.11.0/reload-initializing").Stdout
	pingInit := readCapture(t, "v2.11.0/ping-initializing")
	// The first three commands meet the agent starting up.
	wrapper := "#!/bin/sh\nn=$(cat \"$0.count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$0.count\"\n" +
		"if [ $n -le 3 ]; then case \"$1\" in\n" +
		"  reload-claiming-state) printf '%s' '" + initializing + "'; exit 0 ;;\n" +
		"  ping) printf '%s' '" + pingInit.Stdout + "'; exit " + strconv.Itoa(pingInit.Exit) + " ;;\n" +
		"esac; fi\n[ \"$1\" = ping ] && { printf '%s' '" + readCapture(t, "v2.11.0/ping-ready").Stdout + "'; exit 0; }\nexec \"$0.ready\" \"$@\"\n"
	if err := os.WriteFile(cli, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	c := New(localConnector{}, Options{Mode: ModeClaim, Wait: 2 * time.Second, PollInterval: 10 * time.Millisecond, Token: tokenOf("good-token")})
	res := c.Do(context.Background(), testHost(root, ""))
	if res.Status != StatusClaimed {
		t.Fatalf("%s %s: %s", res.Status, res.Category, res.Message)
	}
}
