package claim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/remote"
)

// CloudState is what the agent says of its link to Cloud.
type CloudState struct {
	// Status: online, offline, available (= not claimed), banned, indirect.
	Status    string `json:"status"`
	Claimed   bool   `json:"claimed"`
	Online    bool   `json:"online"`
	ClaimedID string `json:"claimed_id,omitempty"`
	// NodeID is the node id Cloud assigned, as the agent reports it: only
	// once its link is up (null before: src/aclk/aclk.c:1337-1344 and
	// src/database/contexts/api_v2_contexts_agents.c:23, v2.11.0).
	NodeID string `json:"node_id,omitempty"`
	// NodeName is the agent's node name (its hostname as Cloud shows it).
	NodeName string `json:"node_name,omitempty"`
	URL      string `json:"url,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Since is when the agent's Cloud status last changed (zero when the
	// agent does not say).
	Since time.Time `json:"since,omitempty"`
	// Source says where the state was read: "api-v2", "api-v1", "aclk-state", "reload".
	Source string `json:"source"`
	// CloudEnabled / CloudAvailable are the troubleshooting keys of
	// /api/v1/info (always true on v2 agents).
	CloudEnabled   *bool `json:"cloud_enabled,omitempty"`
	CloudAvailable *bool `json:"cloud_available,omitempty"`
	// Keys are the troubleshooting keys as the agent reported them.
	Keys *Troubleshooting `json:"keys,omitempty"`
}

// The messages of `netdatacli reload-claiming-state`, the same in every v2
// agent (src/daemon/commands.c:191-229 at v2.11.0; :190-213 at v2.8.0,
// :195-218 at v2.0.0). Its exit code is 0 whether or not the claim worked,
// so the message says it all: one of the whole sentences, or a prefix
// followed by the reason.
const (
	reloadOnline   = "Netdata Agent is claimed to Netdata Cloud and is currently online."
	reloadBanned   = "Netdata Agent is claimed to Netdata Cloud, but it is banned."
	reloadIndirect = "Netdata Agent is not claimed to Netdata Cloud, but it is currently online via parent."
	reloadOffline  = "Netdata Agent is claimed to Netdata Cloud, but it is currently offline: "
	reloadNot      = "Netdata Agent is not claimed to Netdata Cloud: "
	// reloadInitializing answers every command while the agent starts
	// (commands.c:682-686 at v2.11.0).
	reloadInitializing = "Agent is initializing"
)

// ErrAgentInitializing is the agent's answer to any netdatacli command while
// it starts up: "Agent is initializing", exit 0 (src/daemon/commands.c:682-686
// at v2.11.0). Nothing was done; ask again once `netdatacli ping` exits 0.
var ErrAgentInitializing = errors.New("the agent is initializing")

// ParseReload reads the message of reload-claiming-state by its structure:
// the agent's sentence first, then (not claimed, offline) the reason. Words
// inside the reason never decide the state.
func ParseReload(out string) (CloudState, error) {
	msg := strings.TrimSpace(out)
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	st := CloudState{Source: "reload"}
	switch {
	case msg == reloadInitializing:
		return st, ErrAgentInitializing
	case msg == reloadIndirect:
		st.Status = "indirect"
	case msg == reloadOnline:
		st.Status, st.Claimed, st.Online = "online", true, true
	case msg == reloadBanned:
		st.Status, st.Claimed = "banned", true
	case strings.HasPrefix(msg, reloadOffline):
		st.Status, st.Claimed = "offline", true
		st.Reason = strings.TrimSpace(strings.TrimPrefix(msg, reloadOffline))
	case strings.HasPrefix(msg, reloadNot):
		st.Status = "available"
		st.Reason = strings.TrimSpace(strings.TrimPrefix(msg, reloadNot))
	default:
		return st, fmt.Errorf("unrecognised answer from reload-claiming-state: %q", remote.Clip(msg, 200))
	}
	return st, nil
}

// OfflineFor is how long an offline agent has been offline, 0 when unknown.
func (s CloudState) OfflineFor(now time.Time) time.Duration {
	if s.Online || s.Since.IsZero() || now.Before(s.Since) {
		return 0
	}
	return now.Sub(s.Since)
}

// ParseACLKStateJSON reads `netdatacli aclk-state json`.
func ParseACLKStateJSON(b []byte) (CloudState, error) {
	if strings.TrimSpace(string(b)) == reloadInitializing {
		return CloudState{Source: "aclk-state"}, ErrAgentInitializing
	}
	var v struct {
		Claimed   *bool  `json:"agent-claimed"`
		ClaimedID string `json:"claimed-id"`
		Online    *bool  `json:"online"`
		URL       string `json:"cloud-url"`
		Banned    bool   `json:"banned-by-cloud"`
		Reason    string `json:"reason"`
		Available *bool  `json:"aclk-available"`
		Instances []struct {
			Hostname     string  `json:"hostname"`
			NodeID       *string `json:"node-id"`
			Relationship string  `json:"relationship"`
		} `json:"node-instances"`
	}
	if len(b) > 1<<20 {
		return CloudState{}, errors.New("aclk-state output too large")
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return CloudState{}, fmt.Errorf("aclk-state json: %w", err)
	}
	if v.Claimed == nil || v.Online == nil {
		return CloudState{}, errors.New("aclk-state json: no agent-claimed/online keys")
	}
	st := CloudState{Source: "aclk-state", Claimed: *v.Claimed, Online: *v.Online, ClaimedID: v.ClaimedID, URL: v.URL, Reason: v.Reason}
	// The agent's own node is the instance whose relationship is "self"
	// (the others are its streaming children: src/aclk/aclk.c:1349-1350,
	// v2.11.0).
	for _, ni := range v.Instances {
		if ni.Relationship == "self" {
			st.NodeName = ni.Hostname
			if ni.NodeID != nil && remote.IsUUID(*ni.NodeID) {
				st.NodeID = strings.ToLower(*ni.NodeID)
			}
			break
		}
	}
	switch {
	case v.Banned:
		st.Status = "banned"
	case st.Online:
		st.Status = "online"
	case st.Claimed:
		st.Status = "offline"
	default:
		st.Status = "available"
	}
	if v.Available != nil && !*v.Available {
		f := false
		st.CloudAvailable = &f
	}
	claimed, online := st.Claimed, st.Online
	st.Keys = &Troubleshooting{Source: "aclk-state", AgentClaimed: &claimed, ACLKAvailable: &online, CloudAvailable: st.CloudAvailable}
	return st, nil
}

// ParseInfoV2 reads the agent's /api/v2/info.
func ParseInfoV2(b []byte) (CloudState, error) {
	var v struct {
		Agents []struct {
			ND    *string `json:"nd"`
			NM    string  `json:"nm"`
			Cloud struct {
				Status  string `json:"status"`
				ClaimID string `json:"claim_id"`
				URL     string `json:"url"`
				Reason  string `json:"reason"`
				Since   int64  `json:"since"`
			} `json:"cloud"`
		} `json:"agents"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return CloudState{}, fmt.Errorf("/api/v2/info: %w", err)
	}
	if len(v.Agents) == 0 || v.Agents[0].Cloud.Status == "" {
		return CloudState{}, errors.New("/api/v2/info: no agents[0].cloud.status")
	}
	c := v.Agents[0].Cloud
	st := CloudState{Source: "api-v2", Status: c.Status, ClaimedID: c.ClaimID, URL: c.URL, Reason: c.Reason, NodeName: v.Agents[0].NM}
	if nd := v.Agents[0].ND; nd != nil && remote.IsUUID(*nd) {
		st.NodeID = strings.ToLower(*nd)
	}
	if c.Since > 0 {
		st.Since = time.Unix(c.Since, 0)
	}
	switch c.Status {
	case "online":
		st.Claimed, st.Online = true, true
	case "offline", "banned":
		st.Claimed = true
	case "indirect":
		// claim_id is the parent's, not the agent's own, while the agent's
		// link is offline (src/claim/claim_id.c:161-168 v2.11.0).
		st.ClaimedID = ""
	case "available":
	default:
		return CloudState{}, fmt.Errorf("/api/v2/info: unknown cloud status %q", remote.Clip(c.Status, 40))
	}
	return st, nil
}

// withKeys is the v2 state st with the troubleshooting keys of /api/v1/info.
func withKeys(st, v1 CloudState) CloudState {
	st.Keys = v1.Keys
	st.CloudEnabled, st.CloudAvailable = v1.CloudEnabled, v1.CloudAvailable
	return st
}

// ParseInfoV1 reads the troubleshooting keys of the agent's /api/v1/info.
func ParseInfoV1(b []byte) (CloudState, error) {
	var v struct {
		CloudEnabled   *bool `json:"cloud-enabled"`
		CloudAvailable *bool `json:"cloud-available"`
		Claimed        *bool `json:"agent-claimed"`
		ACLK           *bool `json:"aclk-available"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return CloudState{}, fmt.Errorf("/api/v1/info: %w", err)
	}
	if v.Claimed == nil {
		return CloudState{}, errors.New("/api/v1/info: no agent-claimed key")
	}
	st := CloudState{Source: "api-v1", Claimed: *v.Claimed, CloudEnabled: v.CloudEnabled, CloudAvailable: v.CloudAvailable}
	st.Online = v.ACLK != nil && *v.ACLK
	st.Keys = &Troubleshooting{Source: "api-v1", CloudEnabled: v.CloudEnabled, CloudAvailable: v.CloudAvailable, AgentClaimed: v.Claimed, ACLKAvailable: v.ACLK}
	switch {
	case st.Online:
		st.Status = "online"
	case st.Claimed:
		st.Status = "offline"
	default:
		st.Status = "available"
	}
	return st, nil
}

// apiOrder is the order in which apiState asks the agent's info endpoints.
type apiOrder int

const (
	apiV2First apiOrder = iota
	apiV1First
	apiV1Only
)

// apiOrderOf is the order for an install: v1 first for a first-generation
// agent, and v1 only before 1.39, whose API has no /api/v2/info (its
// web/api/web_api_v2.c came in v1.39.0; 1.37.1 answers it 404:
// testdata/netdata-1.37.1-api-v2-info.404.txt).
func apiOrderOf(in *remote.Install) apiOrder {
	if in.ClaimGeneration != 1 || remote.Major(in.Version) >= 2 {
		return apiV2First
	}
	if major, minor, ok := majorMinor(in.Version); ok && major == 1 && minor < 39 {
		return apiV1Only
	}
	return apiV1First
}

// majorMinor reads "1.37.1" (or "v1.37.1-12-nightly") as 1, 37.
func majorMinor(v string) (int, int, bool) {
	f := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(f) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(f[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(f[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}

// errNoAPI means the agent's web API could not be reached; the caller falls
// back to netdatacli.
var errNoAPI = errors.New("agent API not reachable")

// apiState asks the agent's web API on the host's loopback, through the SSH
// connection (direct-tcpip): no curl needed on the host.
//
// order says which endpoint is asked first. apiV1First is for agents of
// the first claiming generation: /api/v1/info holds all they report, so it
// is asked first, then /api/v2/info (which such an agent may lack) for an
// online agent's node id or an offline one's reason; apiV1Only for those
// known to lack it. A v2 agent is asked /api/v2/info for its status and reason, then
// /api/v1/info for the troubleshooting keys. Either way an online agent
// costs one request fewer than the other order would.
//
// dial opens a connection to the API (a forward through the SSH connection).
func apiState(ctx context.Context, dial func(context.Context) (net.Conn, error), port int, order apiOrder) (CloudState, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dial(ctx)
		},
		// Both requests (v2 and v1 info) share one forward when the agent
		// keeps the connection open.
		MaxIdleConnsPerHost: 1,
	}
	defer tr.CloseIdleConnections()
	a := agentAPI{c: &http.Client{Transport: tr}, port: port}
	if order != apiV2First {
		if st, ok, err := a.v1First(ctx, order != apiV1Only); ok || err != nil {
			return st, err
		}
	}
	return a.v2First(ctx)
}

// agentAPI is the agent's web API on one forward.
type agentAPI struct {
	c    *http.Client
	port int
}

// get fetches one page of the API: its body (up to 1 MiB) and status.
func (a agentAPI) get(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(a.port)+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errNoAPI, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return b, resp.StatusCode, err
}

// info asks one info page (parse reads it) for what it adds to another's
// answer: ok is false when it could not be had, which is no failure.
func (a agentAPI) info(ctx context.Context, path string, parse func([]byte) (CloudState, error)) (CloudState, bool) {
	b, code, err := a.get(ctx, path)
	if err != nil || code != http.StatusOK {
		return CloudState{}, false
	}
	st, err := parse(b)
	return st, err == nil
}

// v1First asks a first-generation agent /api/v1/info, then, with askV2,
// /api/v2/info (1.40 on): an online agent's node id, an offline one's
// reason. ok is false when /api/v1/info gave no state: v2First asks again.
func (a agentAPI) v1First(ctx context.Context, askV2 bool) (st CloudState, ok bool, err error) {
	b, code, err := a.get(ctx, "/api/v1/info")
	if err == nil && code == http.StatusServiceUnavailable {
		// Until its initialization ends (v1.37.1
		// web/api/web_api_v1.c:1352, daemon/main.c:1566).
		return CloudState{Source: "api-v1"}, false, ErrAgentInitializing
	}
	if err != nil || code != http.StatusOK {
		return CloudState{}, false, err
	}
	st1, err := ParseInfoV1(b)
	if err != nil {
		return CloudState{}, false, nil
	}
	if !askV2 {
		return st1, true, nil
	}
	st2, ok2 := a.info(ctx, "/api/v2/info", ParseInfoV2)
	switch {
	case !ok2:
		return st1, true, nil
	case st1.Online:
		st1.NodeID, st1.NodeName = st2.NodeID, st2.NodeName
		return st1, true, nil
	}
	return withKeys(st2, st1), true, nil
}

// v2First asks /api/v2/info for the status and reason, then /api/v1/info
// for the troubleshooting keys; an agent without /api/v2/info is read
// from /api/v1/info alone.
func (a agentAPI) v2First(ctx context.Context) (CloudState, error) {
	b, code, err := a.get(ctx, "/api/v2/info")
	if err != nil {
		return CloudState{}, err
	}
	if code == http.StatusOK {
		if st, err := ParseInfoV2(b); err == nil {
			if st1, ok := a.info(ctx, "/api/v1/info", ParseInfoV1); ok {
				st = withKeys(st, st1)
			}
			return st, nil
		}
	}
	b, code, err = a.get(ctx, "/api/v1/info")
	if err != nil {
		return CloudState{}, err
	}
	if code != http.StatusOK {
		return CloudState{}, fmt.Errorf("%w: /api/v1/info answered HTTP %d", errNoAPI, code)
	}
	return ParseInfoV1(b)
}
