package lab

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCloudAPI(t *testing.T) {
	l := startLab(t, 4, "v2=3,v2+offline=1")
	info := l.Info()
	token, _ := info.Token()
	apiToken := strings.TrimSpace(string(must(os.ReadFile(info.APITokenFile()))))
	roToken := strings.TrimSpace(string(must(os.ReadFile(info.APIReadOnlyTokenFile()))))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(must(os.ReadFile(info.CAFile())))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	call := func(t *testing.T, method, path, bearer string, body any, out any) int {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(must(json.Marshal(body)))
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, info.CloudURL+path, rd)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil && resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode
	}

	// hosts: the three healthy hosts, then the offline one.
	var hosts []HostInfo
	for _, h := range info.Hosts {
		if !h.Personality.Has(FaultOffline) {
			hosts = append(hosts, h)
		}
	}
	for _, h := range info.Hosts {
		if h.Personality.Has(FaultOffline) {
			hosts = append(hosts, h)
		}
	}
	// Claim hosts[0] (production) and hosts[1] (databases), then stop hosts[1]'s agent.
	for i, room := range []string{"production", "databases"} {
		h := hosts[i]
		c := dial(t, info, h.Name)
		writeClaimConf(t, c, h.Prefix, info.CloudURL, token, info.RoomID(room), "    insecure = yes\n")
		if out, _, _ := run(t, c, "opt/netdata/bin/netdatacli reload-claiming-state", ""); !strings.Contains(out, "online") {
			t.Fatal(out)
		}
	}
	c2 := dial(t, info, hosts[1].Name)
	run(t, c2, "etc/init.d/netdata stop", "")
	// hosts[3] never gets online: Cloud has its claim but never saw it.
	h4 := hosts[3]
	c4 := dial(t, info, h4.Name)
	writeClaimConf(t, c4, h4.Prefix, info.CloudURL, token, "", "    insecure = yes\n")
	run(t, c4, "opt/netdata/bin/netdatacli reload-claiming-state", "")

	var spaces []Room
	if code := call(t, "GET", "/api/v3/spaces", apiToken, nil, &spaces); code != 200 || len(spaces) != 1 || spaces[0].ID != info.SpaceID {
		t.Fatalf("spaces: %d %+v", code, spaces)
	}
	if code := call(t, "GET", "/api/v3/spaces", "", nil, nil); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	var rooms []Room
	if code := call(t, "GET", "/api/v2/spaces/"+info.SpaceID+"/rooms", roToken, nil, &rooms); code != 200 || len(rooms) != 7 {
		t.Fatalf("rooms: %d %+v", code, rooms)
	}
	type nodes struct {
		Nodes []struct{ ND, NM, State string } `json:"nodes"`
	}
	var all nodes
	call(t, "POST", "/api/v3/spaces/"+info.SpaceID+"/rooms/"+info.RoomID("All nodes")+"/nodes", apiToken, map[string]any{"scope": map[string]any{"nodes": []string{}}}, &all)
	states := map[string]string{}
	for _, n := range all.Nodes {
		states[n.NM] = n.State
	}
	if len(all.Nodes) != 3 || states[hosts[0].Name] != "reachable" || states[hosts[1].Name] != "unreachable" || states[h4.Name] != "unseen" {
		t.Fatalf("All nodes: %+v", all)
	}
	// A scope names the nodes wanted: only those that are in the room come
	// back (upper case ids too), an unknown id is left out.
	var scoped nodes
	want := []string{strings.ToUpper(all.Nodes[2].ND), "00000000-0000-4000-8000-000000000000", all.Nodes[0].ND}
	call(t, "POST", "/api/v3/spaces/"+info.SpaceID+"/rooms/"+info.RoomID("All nodes")+"/nodes", apiToken, map[string]any{"scope": map[string]any{"nodes": want}}, &scoped)
	if len(scoped.Nodes) != 2 || scoped.Nodes[0] != all.Nodes[2] || scoped.Nodes[1] != all.Nodes[0] {
		t.Fatalf("scoped All nodes: %+v", scoped)
	}
	var staging nodes
	call(t, "POST", "/api/v3/spaces/"+info.SpaceID+"/rooms/"+info.RoomID("staging")+"/nodes", apiToken, map[string]any{"scope": map[string]any{"nodes": []string{all.Nodes[0].ND}}}, &staging)
	if len(staging.Nodes) != 0 {
		t.Fatalf("staging: %+v", staging)
	}
	if code := call(t, "POST", "/api/v1/spaces/"+info.SpaceID+"/rooms/"+info.RoomID("staging")+"/claimed-nodes", roToken, []string{all.Nodes[0].ND}, nil); code != 403 {
		t.Fatalf("read-only write: %d", code)
	}
	if code := call(t, "POST", "/api/v1/spaces/"+info.SpaceID+"/rooms/"+info.RoomID("staging")+"/claimed-nodes", apiToken, []string{all.Nodes[0].ND}, nil); code != 200 {
		t.Fatalf("add to room: %d", code)
	}
	call(t, "POST", "/api/v3/spaces/"+info.SpaceID+"/rooms/"+info.RoomID("staging")+"/nodes", apiToken, nil, &staging)
	if len(staging.Nodes) != 1 || staging.Nodes[0].ND != all.Nodes[0].ND {
		t.Fatalf("staging after add: %+v", staging)
	}
	var rotated struct{ Token string }
	if code := call(t, "POST", "/api/v1/spaces/"+info.SpaceID+"/token/rotate", apiToken, nil, &rotated); code != 200 || rotated.Token == "" || rotated.Token == token {
		t.Fatalf("rotate: %d %+v", code, rotated)
	}
	if got, _ := info.Token(); got != rotated.Token {
		t.Fatalf("token file not updated: %q", got)
	}
	h := hosts[2]
	c3 := dial(t, info, h.Name)
	writeClaimConf(t, c3, h.Prefix, info.CloudURL, token, "", "    insecure = yes\n")
	if out, _, _ := run(t, c3, "opt/netdata/bin/netdatacli reload-claiming-state", ""); !strings.Contains(out, "token is expired") {
		t.Fatalf("old token after rotation: %q", out)
	}
	if code := call(t, "GET", "/api/v2/spaces/nope/rooms", apiToken, nil, nil); code != 404 {
		t.Fatalf("unknown space: %d", code)
	}

	// Faults from DIR/api-faults, in order, then normal answers.
	if err := os.WriteFile(filepath.Join(info.Dir, "api-faults"), []byte("429 2 7\n503 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		req, _ := http.NewRequest("GET", info.CloudURL+"/api/v3/spaces", nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, fmt.Sprintf("%d/%s", resp.StatusCode, resp.Header.Get("Retry-After")))
	}
	if strings.Join(got, " ") != "429/7 429/7 503/ 200/" {
		t.Fatalf("faults: %v", got)
	}
}
