package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestMain lets the test binary stand in for fleetlab: the programs a lab
// installs on its hosts run `EXE netdatacli|service|claim-v1|kickstart ...`,
// and `up` re-executes itself as `EXE serve ...`. The test binary's own
// arguments are all flags (-test.*), a lab command never is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func testExe(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// shortTempDir keeps DIR/lab.sock under the unix socket path limit.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lab")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startLab(t *testing.T, hosts int, personalities string) *Lab {
	t.Helper()
	ctx := context.Background()
	l, err := Start(ctx, Options{Dir: shortTempDir(t), Hosts: hosts, Seed: "test", Personalities: personalities,
		Executable: testExe(t), Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dial connects to a lab host as a client would: the lab's key, its known_hosts.
func dial(t *testing.T, info *Info, name string) *ssh.Client {
	t.Helper()
	c, err := dialErr(info, name)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialErr(info *Info, name string) (*ssh.Client, error) {
	h, ok := info.Host(name)
	if !ok {
		return nil, fmt.Errorf("no host %s", name)
	}
	keyData, err := os.ReadFile(info.IdentityFile())
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(keyData)
	if err != nil {
		return nil, err
	}
	hkcb, err := knownhosts.New(info.KnownHosts())
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", net.JoinHostPort(h.Address, fmt.Sprint(h.Port)), &ssh.ClientConfig{
		User: "anyone", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hkcb,
		Timeout: 10 * time.Second,
	})
}

// run runs one command on the host and returns stdout, stderr and the exit code.
func run(t *testing.T, c *ssh.Client, cmd string, stdin string) (string, string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if stdin != "" {
		s.Stdin = strings.NewReader(stdin)
	}
	err = s.Run(cmd)
	code := 0
	if ee, ok := err.(*ssh.ExitError); ok {
		code = ee.ExitStatus()
	} else if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return out.String(), errb.String(), code
}

func writeClaimConf(t *testing.T, c *ssh.Client, prefix, url, token, rooms, extra string) {
	t.Helper()
	conf := fmt.Sprintf("[global]\n    url = %s\n    token = %s\n    rooms = %s\n%s", url, token, rooms, extra)
	path := prefix + "/opt/netdata/etc/netdata/claim.conf"
	if _, e, code := run(t, c, "umask 077 && cat > '"+path+"'", conf); code != 0 {
		t.Fatalf("write claim.conf: %s", e)
	}
}

func TestLabHostsAndClaim(t *testing.T) {
	l := startLab(t, 5, "")
	info := l.Info()
	if len(info.Hosts) != 5 || info.Hosts[0].Name != "lab-001" {
		t.Fatalf("hosts: %+v", info.Hosts)
	}
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	h := info.Hosts[0]
	c := dial(t, info, h.Name)

	t.Run("exec", func(t *testing.T) {
		out, _, code := run(t, c, `echo "$HOME"; pwd; echo err >&2; exit 3`, "")
		if code != 3 || out != h.Prefix+"\n"+h.Prefix+"\n" {
			t.Fatalf("code %d out %q", code, out)
		}
		out, _, _ = run(t, c, "cat", "from stdin")
		if out != "from stdin" {
			t.Fatalf("stdin: %q", out)
		}
	})

	t.Run("layout", func(t *testing.T) {
		out, _, code := run(t, c, "opt/netdata/bin/netdata -V && opt/netdata/bin/netdata -W buildinfo | grep -E 'Netdata Cloud|ACLK' && cat opt/netdata/etc/netdata/.install-type && grep -c NEW_CLAIMING_METHOD opt/netdata/bin/netdata-claim.sh", "")
		if code != 0 || !strings.Contains(out, "netdata v2.7.1") || !strings.Contains(out, "Netdata Cloud ____") ||
			!strings.Contains(out, "INSTALL_TYPE='kickstart-static'") || !strings.Contains(out, ": YES") {
			t.Fatalf("code %d out:\n%s", code, out)
		}
		out, _, _ = run(t, c, "etc/init.d/netdata status; echo $?", "")
		if out != "netdata is running\n0\n" {
			t.Fatalf("status: %q", out)
		}
	})

	t.Run("sftp", func(t *testing.T) {
		sc, err := sftp.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		f, err := sc.Create(h.Prefix + "/uploaded.txt")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		f.Close()
		data, err := os.ReadFile(filepath.Join(h.Prefix, "uploaded.txt"))
		if err != nil || string(data) != "hello" {
			t.Fatalf("uploaded: %q %v", data, err)
		}
	})

	apiGet := func(t *testing.T, path string) map[string]any {
		t.Helper()
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.DialContext(ctx, "tcp", "127.0.0.1:19999")
		}}}
		resp, err := hc.Get("http://127.0.0.1:19999" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cloudOf := func(v map[string]any) map[string]any {
		return v["agents"].([]any)[0].(map[string]any)["cloud"].(map[string]any)
	}

	t.Run("direct-tcpip", func(t *testing.T) {
		v := apiGet(t, "/api/v1/info")
		if v["uid"] != h.MachineGUID || v["agent-claimed"] != false || v["cloud-enabled"] != true {
			t.Fatalf("v1 info: %v", v)
		}
		if st := cloudOf(apiGet(t, "/api/v2/info"))["status"]; st != "available" {
			t.Fatalf("status %v", st)
		}
		if _, err := c.Dial("tcp", "127.0.0.1:22"); err == nil {
			t.Fatal("forwarding to another port was allowed")
		}
	})

	t.Run("claim", func(t *testing.T) {
		// Without the CA installed the TLS check fails.
		writeClaimConf(t, c, h.Prefix, info.CloudURL, token, info.RoomID("production"), "")
		out, _, code := run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", "")
		if code != 0 || !strings.Contains(out, "is not claimed to Netdata Cloud: Request failed with error: SSL peer certificate") {
			t.Fatalf("code %d out %q", code, out)
		}
		// With the CA as cloud_fullchain.pem it claims.
		ca, _ := os.ReadFile(info.CAFile())
		if _, e, code := run(t, c, "mkdir -p opt/netdata/var/lib/netdata/cloud.d && cat > opt/netdata/var/lib/netdata/cloud.d/cloud_fullchain.pem", string(ca)); code != 0 {
			t.Fatal(e)
		}
		out, _, code = run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", "")
		if code != 0 || out != "Netdata Agent is claimed to Netdata Cloud and is currently online.\n" {
			t.Fatalf("code %d out %q", code, out)
		}
		claims, err := info.Claims(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) != 1 || claims[0].Hostname != h.Name || claims[0].MGUID != h.MachineGUID ||
			len(claims[0].Rooms) != 1 || claims[0].Rooms[0] != info.RoomID("production") {
			t.Fatalf("claims: %+v", claims)
		}
		out, _, _ = run(t, c, "opt/netdata/bin/netdatacli aclk-state json", "")
		var st map[string]any
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		if st["agent-claimed"] != true || st["online"] != true || st["claimed-id"] != claims[0].NodeID {
			t.Fatalf("aclk-state: %v", st)
		}
		out, _, _ = run(t, c, "opt/netdata/bin/netdatacli aclk-state", "")
		if !strings.Contains(out, "Claimed: Yes\nClaimed Id: "+claims[0].NodeID) || !strings.Contains(out, "Online: Yes") {
			t.Fatalf("aclk-state text: %q", out)
		}
		if cl := cloudOf(apiGet(t, "/api/v2/info")); cl["status"] != "online" || cl["claim_id"] != claims[0].NodeID {
			t.Fatalf("v2 info cloud: %v", cl)
		}
		mode := func(p string) os.FileMode {
			fi, err := os.Stat(filepath.Join(h.Prefix, "opt/netdata/var/lib/netdata/cloud.d", p))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Mode().Perm()
		}
		if mode("cloud.conf")&0o007 != 0 || mode("claimed_id")&0o007 != 0 {
			t.Fatalf("cloud.d files are world-accessible")
		}
		// A second reload does not claim again.
		out, _, _ = run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", "")
		if !strings.Contains(out, "is claimed to Netdata Cloud and is currently online") {
			t.Fatalf("second reload: %q", out)
		}
		if claims, _ := info.Claims(ctx); len(claims) != 1 {
			t.Fatalf("claimed twice: %+v", claims)
		}
	})

	t.Run("claim-script", func(t *testing.T) {
		h2 := info.Hosts[1]
		c2 := dial(t, info, h2.Name)
		cmd := fmt.Sprintf("opt/netdata/bin/netdata-claim.sh -token=%s -rooms=%s -url=%s -insecure", token, info.RoomID("databases"), info.CloudURL)
		out, e, code := run(t, c2, cmd, "")
		if code != 0 || !strings.Contains(out, "claimed to Netdata Cloud and is currently online") {
			t.Fatalf("code %d out %q err %q", code, out, e)
		}
		fi, err := os.Stat(filepath.Join(h2.Prefix, "opt/netdata/etc/netdata/claim.conf"))
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("claim.conf: %v %v", fi, err)
		}
	})

	t.Run("failures", func(t *testing.T) {
		cases := []struct {
			name, host, token, rooms, want string
		}{
			{"bad token", info.Hosts[2].Name, "nope", info.RoomID("staging"), "is not claimed to Netdata Cloud: Failed: token is expired, not found, or invalid"},
			{"bad room", info.Hosts[2].Name, token, "11111111-2222-4333-8444-555555555555", "Failed: one or more room ids are invalid"},
			{"refusing proxy", info.Hosts[2].Name, token + "\n    proxy = http://127.0.0.1:1", "", "Request failed with error: Couldn't connect to server\nproxy: 'http://127.0.0.1:1'"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hh, _ := info.Host(tc.host)
				cc := dial(t, info, tc.host)
				writeClaimConf(t, cc, hh.Prefix, info.CloudURL, tc.token, tc.rooms, "    insecure = yes\n")
				out, _, code := run(t, cc, "opt/netdata/bin/netdatacli reload-claiming-state", "")
				if code != 0 || !strings.Contains(out, tc.want) {
					t.Fatalf("code %d out %q", code, out)
				}
			})
		}
	})

	t.Run("service", func(t *testing.T) {
		hh := info.Hosts[3]
		cc := dial(t, info, hh.Name)
		out, _, code := run(t, cc, "etc/init.d/netdata stop && etc/init.d/netdata status", "")
		if code != 3 || !strings.Contains(out, "not running") {
			t.Fatalf("stop/status: %d %q", code, out)
		}
		_, e, code := run(t, cc, "opt/netdata/bin/netdatacli ping", "")
		if code != 255 || !strings.Contains(e, "Make sure the netdata service is running.") {
			t.Fatalf("netdatacli on stopped agent: %d %q", code, e)
		}
		if _, err := cc.Dial("tcp", "127.0.0.1:19999"); err == nil {
			t.Fatal("agent API reachable while stopped")
		}
		if out, _, code := run(t, cc, "etc/init.d/netdata start && opt/netdata/bin/netdatacli ping", ""); code != 0 || !strings.HasSuffix(out, "pong\n") {
			t.Fatalf("start/ping: %d %q", code, out)
		}
	})

	t.Run("stats", func(t *testing.T) {
		st, err := info.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Handshakes == 0 || st.Sessions == 0 || st.Execs == 0 || st.SFTP != 1 || st.Forwards == 0 || st.CtlRequests == 0 || st.ClaimRequests == 0 {
			t.Fatalf("stats: %+v", st)
		}
	})

	t.Run("concurrent sessions", func(t *testing.T) {
		errs := make(chan error, 10)
		for range 10 {
			go func() {
				s, err := c.NewSession()
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				_, err = s.Output("sleep 0.2; echo ok")
				errs <- err
			}()
		}
		for range 10 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestRestartKeepsClaimsAndIdentity(t *testing.T) {
	dir := shortTempDir(t)
	ctx := context.Background()
	opts := Options{Dir: dir, Hosts: 3, Executable: testExe(t), Log: testLog{t}}
	l, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	info := l.Info()
	token, _ := info.Token()
	h := info.Hosts[0]
	c, err := dialErr(info, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	writeClaimConf(t, c, h.Prefix, info.CloudURL, token, "", "    insecure = yes\n")
	if out, _, _ := run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", ""); !strings.Contains(out, "online") {
		t.Fatal(out)
	}
	c.Close()
	kh1, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	l.Close()

	l2, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	info2 := l2.Info()
	kh2, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if !bytes.Equal(kh1, kh2) {
		t.Errorf("known_hosts changed across restart:\n%s\n%s", kh1, kh2)
	}
	c2 := dial(t, info2, h.Name)
	out, _, _ := run(t, c2, "opt/netdata/bin/netdatacli aclk-state", "")
	if !strings.Contains(out, "Claimed: Yes") {
		t.Fatalf("claim lost across restart: %q", out)
	}
	claims, err := info2.Claims(ctx)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claims after restart: %v %+v", err, claims)
	}
}

func TestInventoryAndFiles(t *testing.T) {
	l := startLab(t, 7, "")
	dir := l.Dir()
	inv, err := os.ReadFile(filepath.Join(dir, "inventory.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"defaults:\n  user: ", "identity_files: [" + dir + "/id_ed25519]", "groups:\n  web:\n    rooms: [",
		"  db:\n", "  staging:\n", "lab-001: {address: 127.0.0.1, port: ", "netdata_prefix: " + dir + "/hosts/lab-001}",
		"token_file: " + dir + "/token", "ca_file: " + dir + "/cloud-ca.pem", "url: https://127.0.0.1:"} {
		if !bytes.Contains(inv, []byte(want)) {
			t.Errorf("inventory lacks %q:\n%s", want, inv)
		}
	}
	for name, mode := range map[string]os.FileMode{"id_ed25519": 0o600, "token": 0o600, "id_ed25519.pub": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(must(os.ReadFile(filepath.Join(dir, "known_hosts")))))
	n := 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "[127.0.0.1]:") || !strings.Contains(sc.Text(), " ssh-ed25519 AAAA") {
			t.Errorf("known_hosts line %q", sc.Text())
		}
		n++
	}
	if n != 7 {
		t.Errorf("%d known_hosts lines", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPersonalities(t *testing.T) {
	l := startLab(t, 6, "v1=1,nocloud=1,none=1,v2+agent-stopped=1")
	info := l.Info()
	token, _ := info.Token()
	byKind := map[string]HostInfo{}
	for _, h := range info.Hosts {
		key := string(h.Personality.Kind)
		if h.Personality.Has(FaultAgentStopped) {
			key = "stopped"
		}
		byKind[key] = h
	}
	t.Run("none", func(t *testing.T) {
		c := dial(t, info, byKind["none"].Name)
		if _, _, code := run(t, c, "test -e opt/netdata", ""); code == 0 {
			t.Fatal("none host has opt/netdata")
		}
	})
	t.Run("nocloud", func(t *testing.T) {
		c := dial(t, info, byKind["nocloud"].Name)
		out, _, _ := run(t, c, "opt/netdata/bin/netdata -W buildinfo | grep -E 'Netdata Cloud|ACLK:'; opt/netdata/bin/netdatacli aclk-state", "")
		if !strings.Contains(out, "Netdata Cloud:              NO (by user request)") || !strings.Contains(out, "ACLK Available: No") {
			t.Fatalf("%q", out)
		}
		_, e, code := run(t, c, "opt/netdata/bin/netdata-claim.sh -token=x", "")
		if code != 3 || !strings.Contains(e, "--disable-cloud") {
			t.Fatalf("%d %q", code, e)
		}
	})
	t.Run("v1", func(t *testing.T) {
		h := byKind["v1"]
		c := dial(t, info, h.Name)
		base := fmt.Sprintf("opt/netdata/bin/netdata-claim.sh -url=%s -insecure -rooms=%s", info.CloudURL, info.RoomID("staging"))
		if _, _, code := run(t, c, base+" -token=wrong", ""); code != 12 {
			t.Fatalf("bad token exit %d", code)
		}
		out, _, code := run(t, c, base+" -token="+token, "")
		// What Debian's real 1.37.1 script prints on success
		// (claim/testdata/real/v1.37.1/exit0-noreload.txt).
		if code != 0 || out != "Connection attempt 1 successful\n" {
			t.Fatalf("%d %q", code, out)
		}
		claims, _ := info.Claims(context.Background())
		found := false
		for _, cl := range claims {
			found = found || cl.NodeID == h.MachineGUID
		}
		if !found {
			t.Fatalf("v1 claim should use the machine GUID as node id: %+v", claims)
		}
		if _, _, code := run(t, c, base+" -token="+token, ""); code != 13 {
			t.Fatalf("second v1 claim exit %d, want 13 (already claimed)", code)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		c := dial(t, info, byKind["stopped"].Name)
		if _, _, code := run(t, c, "etc/init.d/netdata status", ""); code != 3 {
			t.Fatalf("status %d", code)
		}
	})
}

func TestParsePersonalities(t *testing.T) {
	tests := []struct {
		spec    string
		want    string
		wantErr bool
	}{
		{"", "", false},
		{"v1=2,nocloud=1", "v1=2,nocloud=1", false},
		{"v2:2.5.0+cloud-503=3", "v2:2.5.0+cloud-503=3", false},
		{"v3=1", "", true},
		{"v2+melt=1", "", true},
		{"v1=x", "", true},
	}
	for _, tt := range tests {
		got, err := ParsePersonalities(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v", tt.spec, err)
			continue
		}
		var parts []string
		for _, pc := range got {
			parts = append(parts, fmt.Sprintf("%s=%d", pc.Personality, pc.Count))
		}
		if s := strings.Join(parts, ","); !tt.wantErr && s != tt.want {
			t.Errorf("%q: got %q want %q", tt.spec, s, tt.want)
		}
	}
}

// TestUpDownBinary runs the detached path: `lab up`, a real OpenSSH client
// against a host, `lab down`, and checks nothing keeps running.
func TestUpDownBinary(t *testing.T) {
	dir := shortTempDir(t)
	exe := testExe(t)
	runCLI := func(args ...string) (string, int) {
		cmd := exec.Command(exe, args...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := runCLI("up", "--hosts", "5", "--dir", dir, "--seed", "s1")
	if code != 0 {
		t.Fatalf("up: %d %s", code, out)
	}
	info, err := ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if isLabProcess(info.PID, dir) {
			runCLI("down", "--dir", dir)
		}
	}()
	if out, code := runCLI("up", "--hosts", "5", "--dir", dir); code == 0 {
		t.Fatalf("second up succeeded: %s", out)
	}
	c := dial(t, info, "lab-002")
	if out, _, code := run(t, c, "echo ok", ""); code != 0 || out != "ok\n" {
		t.Fatalf("%d %q", code, out)
	}
	if sshPath, err := exec.LookPath("ssh"); err == nil {
		h, _ := info.Host("lab-003")
		cmd := exec.Command(sshPath, "-i", info.IdentityFile(), "-o", "UserKnownHostsFile="+info.KnownHosts(),
			"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-F", "/dev/null",
			"-p", fmt.Sprint(h.Port), info.User+"@127.0.0.1", "echo ok; echo $HOME")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "ok\n"+h.Prefix) {
			t.Fatalf("OpenSSH client: %v\n%s", err, out)
		}
	} else {
		t.Log("ssh not installed: skipping the OpenSSH client check")
	}
	// A command a client left running in the background must not outlive the lab.
	if _, e, code := run(t, c, "sleep 321 </dev/null >/dev/null 2>&1 &", ""); code != 0 {
		t.Fatal(e)
	}
	// Claim one host, then the claims and stats commands show it.
	{
		token, _ := info.Token()
		h1, _ := info.Host("lab-002")
		writeClaimConf(t, c, h1.Prefix, info.CloudURL, token, info.RoomID("databases"), "    insecure = yes\n")
		if out, _, _ := run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", ""); !strings.Contains(out, "online") {
			t.Fatal(out)
		}
		out, code := runCLI("claims", "--dir", dir)
		if code != 0 || !strings.Contains(out, "lab-002  databases") || !strings.Contains(out, "1 of 5 lab hosts claimed") {
			t.Fatalf("claims: %d\n%s", code, out)
		}
		if out, code := runCLI("claims", "--dir", dir, "--count"); code != 0 || out != "1 of 5 lab hosts claimed in the lab Cloud\n" {
			t.Fatalf("claims --count: %d %q", code, out)
		}
		if out, code := runCLI("stats", "--dir", dir); code != 0 || !strings.Contains(out, `"claim_requests": 1`) {
			t.Fatalf("stats: %d %s", code, out)
		}
	}
	if out, code := runCLI("status", "--dir", dir); code != 0 {
		t.Fatalf("status: %d %s", code, out)
	}
	if out, code := runCLI("down", "--dir", dir); code != 0 {
		t.Fatalf("down: %d %s", code, out)
	}
	if isLabProcess(info.PID, dir) && !isZombie(info.PID) {
		t.Fatalf("lab process %d still running", info.PID)
	}
	if _, err := os.Stat(filepath.Join(dir, "lab.sock")); err == nil {
		t.Error("lab.sock left behind")
	}
	// lab down kills the hosts' commands; the kernel reaps them soon after.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left := survivors("sleep\x00321\x00")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a command started on a lab host survived lab down: %v", left)
			break
		}
	}
	// With the lab down, a host's netdatacli says the agent is not running.
	h, _ := info.Host("lab-001")
	cmd := exec.Command(filepath.Join(h.Prefix, "opt/netdata/bin/netdatacli"), "ping")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 || !strings.Contains(errb.String(), "Make sure the netdata service is running") {
		t.Fatalf("netdatacli with the lab down: %v %q", err, errb.String())
	}
	if out, code := runCLI("down", "--dir", dir); code != 0 {
		t.Fatalf("second down: %d %s", code, out)
	}
}

// TestUpReportsServeFailure: when the lab process dies before it is ready,
// `lab up` fails and quotes the log.
func TestUpReportsServeFailure(t *testing.T) {
	dir := shortTempDir(t)
	cmd := exec.Command(testExe(t), "up", "--hosts", "2", "--dir", dir, "--personalities", "v1=3")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "exited before it was ready") || !strings.Contains(string(out), "personalities cover 3 hosts but the lab has only 2") {
		t.Fatalf("output:\n%s", out)
	}
}

// survivors lists the live (not zombie) processes whose command line is
// cmdline.
func survivors(cmdline string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if data, err := os.ReadFile(p); err == nil && string(data) == cmdline {
			out = append(out, filepath.Dir(p))
		}
	}
	return out
}
