package claim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fleetclaim/fleetclaim/remote"
)

func TestParseReload(t *testing.T) {
	cases := []struct {
		out             string
		status          string
		claimed, online bool
		reason          string
	}{
		{"Netdata Agent is claimed to Netdata Cloud and is currently online.\n", "online", true, true, ""},
		{"Netdata Agent is claimed to Netdata Cloud, but it is currently offline: connection refused\n", "offline", true, false, "connection refused"},
		{"Netdata Agent is claimed to Netdata Cloud, but it is banned.", "banned", true, false, ""},
		{"Netdata Agent is not claimed to Netdata Cloud: Agent is not claimed yet\n", "available", false, false, "Agent is not claimed yet"},
		{"Netdata Agent is not claimed to Netdata Cloud: Failed: token is expired, not found, or invalid", "available", false, false, "Failed: token is expired, not found, or invalid"},
		// A reason holding another sentence does not change the state.
		{"Netdata Agent is not claimed to Netdata Cloud: Request failed with error: Couldn't resolve proxy name\nproxy: 'http://is-claimed-to-Netdata-Cloud-and-is-currently-online.', x", "available", false, false, "Request failed with error: Couldn't resolve proxy name\nproxy: 'http://is-claimed-to-Netdata-Cloud-and-is-currently-online.', x"},
		{"Netdata Agent is not claimed to Netdata Cloud, but it is currently online via parent.", "indirect", false, false, ""},
	}
	for _, c := range cases {
		st, err := ParseReload(c.out)
		if err != nil {
			t.Errorf("ParseReload(%q): %v", c.out, err)
			continue
		}
		if st.Status != c.status || st.Claimed != c.claimed || st.Online != c.online || st.Reason != c.reason {
			t.Errorf("ParseReload(%q) = %+v, want status %s claimed %v online %v reason %q", c.out, st, c.status, c.claimed, c.online, c.reason)
		}
	}
	if _, err := ParseReload("Segmentation fault"); err == nil {
		t.Error("an unknown answer was accepted")
	}
}

// TestReloadFailureCategories: every reason of claim-with-api.c (v2.11.0)
// and the curl texts the lab's agent gives (lab/agent.go curlError, from
// libcurl's curl_easy_strerror); the real agent's own captures are in
// TestReloadRealCaptures.
func TestReloadFailureCategories(t *testing.T) {
	tail := "\nproxy: 'env',\ninsecure: false,\npublic key file: '/var/lib/netdata/cloud.d/public.pem',\ntrusted key file: 'none'"
	cases := map[string]Category{
		"Failed: Netdata Cloud is unavailable":                                                  CatCloudError,
		"Failed: Gateway Timeout":                                                               CatCloudError,
		"Failed: received Internal Server Error":                                                CatCloudError,
		"Claiming is in progress":                                                               CatCloudError,
		"Failed: agent is already claimed":                                                      CatAlreadyClaimedElse,
		"Failed: token is expired, not found, or invalid":                                       CatTokenRejected,
		"Failed: one or more room ids are invalid":                                              CatRoomInvalid,
		"Failed: the node id is invalid":                                                        CatInvalidNode,
		"Failed: the node name is invalid":                                                      CatInvalidNode,
		"Failed: the public key is invalid":                                                     CatInvalidNode,
		"Failed to save claiming info to disk":                                                  CatWriteFailed,
		"Failed with response code 502":                                                         CatCloudError,
		"Failed with response code 404":                                                         CatClaimFailed,
		"Failed with description 'ErrSomethingNew'":                                             CatClaimFailed,
		"Request failed: response body exceeded 65536 bytes" + tail:                             CatCloudError,
		"Request failed with error: Couldn't connect to server" + tail:                          CatCloudUnreachable,
		"Request failed with error: Couldn't resolve host name" + tail:                          CatCloudUnreachable,
		"Request failed with error: Couldn't resolve proxy name" + tail:                         CatCloudUnreachable,
		"Request failed with error: Timeout was reached" + tail:                                 CatCloudUnreachable,
		"Request failed with error: SSL connect error" + tail:                                   CatCloudUnreachable,
		"Request failed with error: SSL peer certificate or SSH remote key was not OK" + tail:   CatCertificate,
		"Request failed with error: Problem with the SSL CA cert (path? access rights?)" + tail: CatCertificate,
		// A word of a cause inside a path or a proxy URL is not the cause.
		"Request failed with error: Couldn't connect to server\nproxy: 'http://token-room-ssl.example:3128',\ninsecure: false,\npublic key file: '/srv/ssl/x509/certificate/403/cloud.d/public.pem',\ntrusted key file: '/srv/token/room/cloud.d/trusted.pem'": CatCloudUnreachable,
		"": CatClaimFailed,
	}
	for reason, want := range cases {
		if got := CategoryOf(reloadFailure(reason)); got != want {
			t.Errorf("reloadFailure(%q) category %s, want %s", reason, got, want)
		}
	}
}

func TestParseACLKStateJSON(t *testing.T) {
	st, err := ParseACLKStateJSON([]byte(`{"aclk-available":true,"aclk-version":2,"protocols-supported":["Protobuf"],"agent-claimed":true,"claimed-id":"8a2a6bc3-1c47-4f5e-b1a0-2b8b0f5a3d10","cloud-url":"https://app.netdata.cloud","online":true,"used-cloud-protocol":"Protobuf","banned-by-cloud":false}`))
	if err != nil || !st.Online || !st.Claimed || st.ClaimedID != "8a2a6bc3-1c47-4f5e-b1a0-2b8b0f5a3d10" || st.Status != "online" {
		t.Fatalf("got %+v, %v", st, err)
	}
	st, err = ParseACLKStateJSON([]byte(`{"aclk-available":true,"agent-claimed":false,"claimed-id":null,"online":false,"banned-by-cloud":false}`))
	if err != nil || st.Claimed || st.Status != "available" {
		t.Fatalf("got %+v, %v", st, err)
	}
	for _, bad := range []string{``, `{}`, `[1]`, `{"agent-claimed":"yes","online":true}`} {
		if _, err := ParseACLKStateJSON([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseInfo(t *testing.T) {
	st, err := ParseInfoV2([]byte(`{"agents":[{"mg":"x","cloud":{"id":1,"status":"online","since":1700000000,"age":5,"url":"https://app.netdata.cloud","claim_id":"c1"}}]}`))
	if err != nil || !st.Online || st.ClaimedID != "c1" {
		t.Fatalf("v2: %+v %v", st, err)
	}
	st, err = ParseInfoV2([]byte(`{"agents":[{"cloud":{"status":"offline","reason":"proxy refused"}}]}`))
	if err != nil || st.Online || !st.Claimed || st.Reason != "proxy refused" {
		t.Fatalf("v2 offline: %+v %v", st, err)
	}
	if _, err := ParseInfoV2([]byte(`{"agents":[{"cloud":{"status":"weird"}}]}`)); err == nil {
		t.Fatal("unknown status accepted")
	}
	st, err = ParseInfoV1([]byte(`{"version":"v1.37.1","cloud-enabled":false,"cloud-available":false,"agent-claimed":false,"aclk-available":false}`))
	if err != nil || st.Claimed || st.CloudEnabled == nil || *st.CloudEnabled {
		t.Fatalf("v1: %+v %v", st, err)
	}
}

func FuzzParseAgentOutput(f *testing.F) {
	f.Add([]byte("Netdata Agent is claimed to Netdata Cloud and is currently online."))
	f.Add([]byte(`{"agent-claimed":true,"online":false}`))
	f.Add([]byte(`{"agents":[{"cloud":{"status":"online"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseReload(string(b))
		ParseACLKStateJSON(b)
		ParseInfoV2(b)
		ParseInfoV1(b)
	})
}

// TestAPIStateRequests: which of the agent's info endpoints apiState asks,
// in which order, over how many forwards, and what it makes of the answers.
// The v1 agent's answers are a real Netdata 1.37.1's (testdata), with the
// Cloud keys turned on for the claimed and online cases.
func TestAPIStateRequests(t *testing.T) {
	real137, err := os.ReadFile("testdata/netdata-1.37.1-api-v1-info.json")
	if err != nil {
		t.Fatal(err)
	}
	no137, _ := os.ReadFile("testdata/netdata-1.37.1-api-v2-info.404.txt")
	keys := func(claimed, online bool) []byte {
		b := bytes.Replace(real137, []byte(`"agent-claimed": false`), []byte(fmt.Sprintf(`"agent-claimed": %v`, claimed)), 1)
		b = bytes.Replace(b, []byte(`"aclk-available": false`), []byte(fmt.Sprintf(`"aclk-available": %v`, online)), 1)
		b = bytes.Replace(b, []byte(`"cloud-enabled": false`), []byte(`"cloud-enabled": true`), 1)
		return bytes.Replace(b, []byte(`"cloud-available": false`), []byte(`"cloud-available": true`), 1)
	}
	v2 := func(status, reason string) []byte {
		return []byte(fmt.Sprintf(`{"agents":[{"cloud":{"status":%q,"reason":%q,"claim_id":"c1"}}]}`, status, reason))
	}
	type answer struct {
		code int
		body []byte
	}
	notFound := answer{404, no137}
	cases := []struct {
		name         string
		v1First      bool
		v1, v2       answer
		wantPaths    string
		wantStatus   string
		wantSource   string
		wantReason   string
		wantKeys     bool
		wantOnline   bool
		wantCloudKey bool // cloud-enabled as the v1 keys say
	}{
		// Online: v2 info too, for the node id (v1 info has none).
		{"v1 agent online, asked as v1", true, answer{200, keys(true, true)}, notFound,
			"/api/v1/info /api/v2/info", "online", "api-v1", "", true, true, true},
		{"v1 agent offline, asked as v1: v2 for the reason, absent", true, answer{200, keys(true, false)}, notFound,
			"/api/v1/info /api/v2/info", "offline", "api-v1", "", true, false, true},
		{"1.4x agent offline, asked as v1: the reason from v2, the keys from v1", true, answer{200, keys(true, false)}, answer{200, v2("offline", "proxy refused")},
			"/api/v1/info /api/v2/info", "offline", "api-v2", "proxy refused", true, false, true},
		{"real 1.37.1 without Cloud, asked as v1", true, answer{200, real137}, notFound,
			"/api/v1/info /api/v2/info", "available", "api-v1", "", true, false, false},
		{"v2 agent online", false, answer{200, keys(true, true)}, answer{200, v2("online", "")},
			"/api/v2/info /api/v1/info", "online", "api-v2", "", true, true, true},
		{"v1 agent asked as v2", false, answer{200, keys(true, true)}, notFound,
			"/api/v2/info /api/v1/info", "online", "api-v1", "", true, true, true},
		{"v1 info refused, asked as v1: the v2 path", true, answer{500, nil}, answer{200, v2("online", "")},
			"/api/v1/info /api/v2/info /api/v1/info", "online", "api-v2", "", false, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			conns := 0
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				a := map[string]answer{"/api/v1/info": c.v1, "/api/v2/info": c.v2}[r.URL.Path]
				w.WriteHeader(a.code)
				w.Write(a.body)
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					mu.Lock()
					conns++
					mu.Unlock()
				}
			}
			srv.Start()
			defer srv.Close()
			port := srv.Listener.Addr().(*net.TCPAddr).Port
			dial := func(ctx context.Context) (net.Conn, error) {
				return remote.Local{}.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			}
			st, err := apiState(context.Background(), dial, port, map[bool]apiOrder{true: apiV1First, false: apiV2First}[c.v1First])
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := strings.Join(paths, " ")
			mu.Unlock()
			if got != c.wantPaths {
				t.Errorf("asked %q, want %q", got, c.wantPaths)
			}
			if conns != 1 {
				t.Errorf("%d forwards, want 1", conns)
			}
			if st.Status != c.wantStatus || st.Source != c.wantSource || st.Reason != c.wantReason || st.Online != c.wantOnline {
				t.Errorf("state %+v, want status %s source %s reason %q online %v", st, c.wantStatus, c.wantSource, c.wantReason, c.wantOnline)
			}
			if (st.Keys != nil) != c.wantKeys {
				t.Fatalf("keys %+v, want them: %v", st.Keys, c.wantKeys)
			}
			if c.wantKeys && (st.Keys.CloudEnabled == nil || *st.Keys.CloudEnabled != c.wantCloudKey) {
				t.Errorf("cloud-enabled %v, want %v", st.Keys.CloudEnabled, c.wantCloudKey)
			}
		})
	}
}

// TestParseNodeID: the node id Cloud assigned is read from the agent's
// self node instance (aclk-state json) and from /api/v2/info agents[0].nd;
// both are null until the link is up. The null inputs are the real
// v2.11.0 agent's outputs after a claim its Cloud accepted, link offline
// (../shared/netdata-v2/README.md, "claiming against a local fake cloud",
// 2026-12-01; of /api/v2/info it records agents[0]'s mg, nd and cloud); the set ones differ only in the id, where aclk.c prints it
// (src/aclk/aclk.c:1337-1344, v2.11.0).
func TestParseNodeID(t *testing.T) {
	const aclkNull = `{"aclk-available":true,"aclk-version":2,"protocols-supported":["Protobuf"],"agent-claimed":true,"claimed-id":"f72ce46c-abf1-4145-8a59-e96e6eedd626","cloud-url":"https:\/\/127.0.0.1:8443","aclk_proxy":"none","publish_latency_us":0,"online":false,"used-cloud-protocol":"Protobuf","mqtt-version":5,"received-app-layer-msgs":0,"received-mqtt-pubacks":0,"pending-mqtt-pubacks":0,"server-receive-maximum":0,"reconnect-count":0,"last-connect-time-utc":null,"last-connect-time-puback-utc":null,"last-disconnect-time-utc":null,"next-connection-attempt-utc":"2026-12-01 08:12:40","last-backoff-value":8.3540000915527344,"banned-by-cloud":false,"node-instances":[{"hostname":"vm","mguid":"1cdc8404-dd6d-42e3-bb03-646cebbbe228","claimed_id":"f72ce46c-abf1-4145-8a59-e96e6eedd626","node-id":null,"streaming-hops":0,"relationship":"self","streaming-online":true,"alert-sync-status":{"updates":0,"checkpoint-count":0,"alert-count":0,"alert-snapshot-count":0,"alert-version":0}}]}`
	const infoNull = `{"agents":[{"mg": "1cdc8404-dd6d-42e3-bb03-646cebbbe228", "nd": null, "cloud": {"id": 0, "status": "offline", "since": 1796112718, "age": 40, "claim_id": "f72ce46c-abf1-4145-8a59-e96e6eedd626", "url": "https://127.0.0.1:8443", "reason": "https client read error", "next_check": 1796112760, "next_in": 2}}]}`
	const nd = "0c6f7f2e-5d1b-4f0e-9a43-6f1f2b9d0a11"
	st, err := ParseACLKStateJSON([]byte(aclkNull))
	if err != nil || st.NodeID != "" || st.NodeName != "vm" || st.ClaimedID != "f72ce46c-abf1-4145-8a59-e96e6eedd626" {
		t.Fatalf("aclk-state, node id null: %+v %v", st, err)
	}
	// A child streaming to this agent comes first: only "self" counts.
	set := strings.Replace(aclkNull, `"node-instances":[`, `"node-instances":[{"hostname":"child","node-id":"11111111-2222-4333-8444-555555555555","relationship":"child"},`, 1)
	set = strings.Replace(set, `"node-id":null`, `"node-id":"`+strings.ToUpper(nd)+`"`, 1)
	if st, err = ParseACLKStateJSON([]byte(set)); err != nil || st.NodeID != nd || st.NodeName != "vm" {
		t.Fatalf("aclk-state, node id set: %+v %v", st, err)
	}
	if st, err = ParseInfoV2([]byte(infoNull)); err != nil || st.NodeID != "" {
		t.Fatalf("/api/v2/info, nd null: %+v %v", st, err)
	}
	if st, err = ParseInfoV2([]byte(strings.Replace(infoNull, `"nd": null`, `"nd": "`+nd+`"`, 1))); err != nil || st.NodeID != nd {
		t.Fatalf("/api/v2/info, nd set: %+v %v", st, err)
	}
	// Not a UUID: not a node id.
	if st, err = ParseInfoV2([]byte(strings.Replace(infoNull, `"nd": null`, `"nd": "x; rm -rf /"`, 1))); err != nil || st.NodeID != "" {
		t.Fatalf("/api/v2/info, bad nd: %+v %v", st, err)
	}
}

// TestAPIOrderV1Only: an agent before 1.39 has no /api/v2/info (1.37.1
// answers it 404: testdata/netdata-1.37.1-api-v2-info.404.txt), so only
// /api/v1/info is asked; 1.39 on, and v2, ask both.
func TestAPIOrderV1Only(t *testing.T) {
	for _, c := range []struct {
		gen     int
		version string
		want    apiOrder
	}{
		{1, "1.37.1", apiV1Only},
		{1, "v1.38.0-5-nightly", apiV1Only},
		{1, "1.39.0", apiV1First},
		{1, "1.47.5", apiV1First},
		{1, "", apiV1First},
		{2, "2.11.0", apiV2First},
		{1, "2.0.0", apiV2First},
		{0, "1.37.1", apiV2First},
	} {
		if got := apiOrderOf(&remote.Install{ClaimGeneration: c.gen, Version: c.version}); got != c.want {
			t.Errorf("generation %d, version %q: order %d, want %d", c.gen, c.version, got, c.want)
		}
	}
	real137, err := os.ReadFile("testdata/netdata-1.37.1-api-v1-info.json")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path != "/api/v1/info" {
			http.NotFound(w, r)
			return
		}
		w.Write(real137)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dial := func(ctx context.Context) (net.Conn, error) {
		return remote.Local{}.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
	st, err := apiState(context.Background(), dial, port, apiV1Only)
	if err != nil || st.Status != "available" || st.Source != "api-v1" || st.Keys == nil {
		t.Fatalf("state %+v, %v", st, err)
	}
	if got := strings.Join(paths, " "); got != "/api/v1/info" {
		t.Errorf("asked %q, want /api/v1/info only", got)
	}
}

// TestAPIStateInitializing: /api/v1/info answers 503 until the agent's
// initialization ends (v1.37.1 web/api/web_api_v1.c:1352): the agent is
// initializing, to be asked again, not an API to give up on.
func TestAPIStateInitializing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dial := func(ctx context.Context) (net.Conn, error) {
		return remote.Local{}.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
	for _, o := range []apiOrder{apiV1First, apiV1Only} {
		if _, err := apiState(context.Background(), dial, port, o); !errors.Is(err, ErrAgentInitializing) {
			t.Errorf("order %d: %v, want ErrAgentInitializing", o, err)
		}
	}
}
