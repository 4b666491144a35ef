package lab

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Room is a room of the lab Cloud's Space.
type Room struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// allNodesRoom is the room every claimed node of a Space is in.
const allNodesRoom = "All nodes"

// Claim is one node the lab Cloud accepted.
type Claim struct {
	// NodeID is the claimed id the agent claimed with (the path of its
	// claim request): a random UUID of the agent's, not Cloud's node id.
	NodeID string `json:"node_id"`
	// ND is the node id the lab Cloud assigned, the "nd" of its node
	// listings. Cloud assigns node ids itself and maps them 1-to-1 to
	// machine GUIDs (netdata docs/learn/node-identities.md, "Cloud: Node
	// Identity"); the claimed id is separate ("Claimed ID"). A claim from a
	// machine GUID the Space knows keeps that GUID's node id.
	ND       string    `json:"nd,omitempty"`
	Hostname string    `json:"hostname"`
	MGUID    string    `json:"mguid"`
	Rooms    []string  `json:"rooms"`
	Time     time.Time `json:"time"`
	// ReplacedBy is set (in the full history only) when a later claim with the
	// same machine GUID replaced this one.
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// labRoomNames are the rooms of the lab Space, in inventory order.
func labRoomNames() []string { return []string{"production", "web servers", "databases", "staging"} }

// cloud is the lab's Netdata Cloud: the claim endpoint agents call, and the
// read endpoint tests use as the proof of what was claimed.
//
// Claim policy (documented because real Cloud's is not): a claim whose node id
// is already claimed is refused with 409 ErrAlreadyClaimed; a claim for a
// machine GUID that is already claimed under another node id replaces the
// earlier claim, the way cloned machines replace each other in real Cloud.
type cloud struct {
	dir     string
	token   string
	spaceID string
	rooms   []Room
	faults  map[string]Personality // by machine GUID
	logf    func(string, ...any)

	srv *http.Server
	ln  net.Listener
	url string

	// apiToken and readToken authorise the Cloud API (full access, read only).
	apiToken, readToken string
	// online reports whether the agent with a machine GUID is connected now.
	online func(mguid string) bool
	// everOnline reports whether that agent has ever connected (nil: assume
	// it has); a claimed node that never connected is "unseen".
	everOnline func(mguid string) bool
	// apiFaultsMu serialises the reads and rewrites of DIR/api-faults.
	apiFaultsMu sync.Mutex
	// stats reports the lab's counters for GET /lab/stats.
	stats func() Stats
	// rules are the rooms' node membership rules, by room id; labels
	// returns the host labels of the agent with a machine GUID.
	rules  map[string][]membershipRule
	labels func(mguid string) map[string]string
	// extraRooms are room memberships added through the API, by Cloud
	// node id (nd).
	extraRooms map[string][]string
	// leftRooms are rooms nodes were removed from through the API.
	leftRooms map[string][]string

	claimRequests atomic.Int64

	mu      sync.Mutex
	claims  []Claim        // full history, in order
	byNode  map[string]int // claimed id -> index in claims
	byND    map[string]int // Cloud node id -> index of its active claim
	byGUID  map[string]int // machine GUID -> index of its active claim
	store   *os.File       // DIR/cloud-claims.jsonl
	reqLog  *bufio.Writer  // DIR/cloud-requests.log
	reqFile *os.File
}

func newCloud(dir string, k keyring, logf func(string, ...any)) *cloud {
	c := &cloud{dir: dir, token: k.token(), spaceID: k.uuid("space"), logf: logf,
		apiToken: "lab-api-" + k.uuid("api-token"), readToken: "lab-api-ro-" + k.uuid("api-token-ro"),
		byNode: map[string]int{}, byND: map[string]int{}, byGUID: map[string]int{}, faults: map[string]Personality{},
		extraRooms: map[string][]string{}, leftRooms: map[string][]string{}, online: func(string) bool { return true }}
	// A rotated token (see the Cloud API) survives restarts in DIR/token.
	if data, err := os.ReadFile(filepath.Join(dir, "token")); err == nil {
		if t := strings.TrimSpace(string(data)); t != "" {
			c.token = t
		}
	}
	c.rooms = append(c.rooms, Room{ID: k.uuid("room:All nodes"), Name: allNodesRoom,
		Description: "every node of the Space"})
	for _, name := range labRoomNames() {
		c.rooms = append(c.rooms, Room{ID: k.uuid("room:" + name), Name: name, Description: "lab room " + name})
	}
	// Two rooms share a name, as real Spaces allow: a name that cannot
	// be resolved to one id.
	for i := 1; i <= 2; i++ {
		c.rooms = append(c.rooms, Room{ID: k.uuid(fmt.Sprintf("room:edge#%d", i)), Name: "edge", Description: fmt.Sprintf("lab room edge (%d of 2)", i)})
	}
	return c
}

func (c *cloud) roomID(name string) string {
	for _, r := range c.rooms {
		if r.Name == name {
			return r.ID
		}
	}
	return ""
}

// start loads the claim history and serves HTTPS on 127.0.0.1 (port 0 = any).
func (c *cloud) start(ca *cloudCA, port int) error {
	if err := c.loadClaims(); err != nil {
		return err
	}
	var err error
	if c.store, err = os.OpenFile(filepath.Join(c.dir, "cloud-claims.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return fmt.Errorf("lab Cloud: %w", err)
	}
	if c.reqFile, err = os.OpenFile(filepath.Join(c.dir, "cloud-requests.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		return fmt.Errorf("lab Cloud: %w", err)
	}
	c.reqLog = bufio.NewWriter(c.reqFile)
	leaf, err := ca.serverCert()
	if err != nil {
		return err
	}
	cert := tls.Certificate{Certificate: [][]byte{leaf.der, ca.cert.Raw}, PrivateKey: leaf.key}
	c.ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil && port != 0 {
		c.ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("lab Cloud: listen: %w", err)
	}
	c.url = "https://" + c.ln.Addr().String()
	c.srv = &http.Server{
		Handler:           http.HandlerFunc(c.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logWriter(c.logf), "lab Cloud: ", 0),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	go func() {
		if err := c.srv.Serve(tls.NewListener(c.ln, c.srv.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.logf("lab Cloud: %v", err)
		}
	}()
	return nil
}

func (c *cloud) close(ctx context.Context) {
	if c.srv != nil {
		_ = c.srv.Shutdown(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reqLog != nil {
		_ = c.reqLog.Flush()
		_ = c.reqFile.Close()
		c.reqLog = nil
	}
	if c.store != nil {
		_ = c.store.Close()
		c.store = nil
	}
}

func (c *cloud) loadClaims() error {
	f, err := os.Open(filepath.Join(c.dir, "cloud-claims.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lab Cloud: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line storeLine
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line.RuleStore != nil {
			c.applyRuleLocked(*line.RuleStore)
		} else if line.RoomAdd != nil {
			c.addRoomLocked(line.RoomAdd.Room, line.RoomAdd.NodeIDs)
		} else if line.RoomRemove != nil {
			c.leaveRoomLocked(line.RoomRemove.Room, line.RoomRemove.NodeIDs)
		} else if line.NodeID != "" {
			c.recordLocked(line.Claim)
		}
	}
	return nil
}

// storeLine is one line of DIR/cloud-claims.jsonl: an accepted claim, or
// nodes added to a room through the Cloud API.
type storeLine struct {
	Claim
	RoomAdd    *roomAdd `json:"room_add,omitempty"`
	RoomRemove *roomAdd `json:"room_remove,omitempty"`
	// RuleStore is a node membership rule made, changed or removed.
	RuleStore *ruleStore `json:"rule_change,omitempty"`
}

type roomAdd struct {
	Room    string   `json:"room"`
	NodeIDs []string `json:"node_ids"`
}

// assignNDLocked returns the node id of a claim from mguid: the one the
// Space already has for that machine GUID, else a new random one (never the
// claimed id).
func (c *cloud) assignNDLocked(mguid string) string {
	if prev, ok := c.byGUID[mguid]; ok && mguid != "" && c.claims[prev].ND != "" {
		return c.claims[prev].ND
	}
	return randomUUID()
}

// nodeIDOf returns the node id Cloud assigned to the node claimed with
// claimedID, "" when this Cloud accepted no such claim. A lab agent learns
// it this way once its link is up, as a real agent learns it from Cloud's
// CreateNodeInstanceResult over the link (src/aclk/aclk_rx_msgs.c:253-264,
// v2.11.0).
func (c *cloud) nodeIDOf(claimedID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.byNode[strings.ToLower(claimedID)]; ok {
		return c.claims[i].ND
	}
	return ""
}

// recordLocked adds an accepted claim to the in-memory history.
func (c *cloud) recordLocked(cl Claim) {
	if prev, ok := c.byGUID[cl.MGUID]; ok && cl.MGUID != "" {
		c.claims[prev].ReplacedBy = cl.NodeID
	}
	if cl.ND == "" {
		// A store written before node ids had their own: one now.
		cl.ND = c.assignNDLocked(cl.MGUID)
	}
	c.claims = append(c.claims, cl)
	c.byNode[cl.NodeID] = len(c.claims) - 1
	c.byND[cl.ND] = len(c.claims) - 1
	if cl.MGUID != "" {
		c.byGUID[cl.MGUID] = len(c.claims) - 1
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (c *cloud) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v1/spaces/nodes/"):
		c.handleClaim(rec, r, strings.TrimPrefix(r.URL.Path, "/api/v1/spaces/nodes/"))
	case r.Method == http.MethodGet && r.URL.Path == "/lab/claims":
		c.handleClaims(rec, r)
	case r.Method == http.MethodGet && r.URL.Path == "/lab/stats" && c.stats != nil:
		writeJSON(rec, c.stats())
	case strings.HasPrefix(r.URL.Path, "/api/"):
		c.serveAPI(rec, r)
	default:
		cloudError(rec, msgCloudNotFound)
	}
	c.mu.Lock()
	if c.reqLog != nil {
		// Method, path and status only: never the body (which carries the token).
		fmt.Fprintf(c.reqLog, "%s %s %s %d %s\n", start.UTC().Format(time.RFC3339Nano), r.Method, r.URL.Path,
			rec.status, time.Since(start).Round(time.Microsecond))
		_ = c.reqLog.Flush()
	}
	c.mu.Unlock()
}

// cloudError answers with row id of msgTable: its status, errorMsgKey and
// errorMessage (formatted with args).
func cloudError(w http.ResponseWriter, id msgID, args ...any) {
	cloudErrorAt(w, msgRowOf(id).status, id, args...)
}

// cloudErrorAt is cloudError with the status given, for rows whose status
// the caller chooses (an injected API fault).
func cloudErrorAt(w http.ResponseWriter, status int, row msgID, args ...any) {
	key, msg := msgRowOf(row).key, msgf(row, args...)
	var id [8]byte
	_, _ = rand.Read(id[:])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errorCode":         hex.EncodeToString(id[:]),
		"errorMsgKey":       key,
		"errorMessage":      msg,
		"errorNonRetryable": status < 500,
		"errorRetryDelay":   0,
	})
}

type claimBody struct {
	Node struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
	} `json:"node"`
	Token     string   `json:"token"`
	Rooms     []string `json:"rooms"`
	PublicKey string   `json:"publicKey"`
	MGUID     string   `json:"mGUID"`
}

func (c *cloud) handleClaim(w http.ResponseWriter, r *http.Request, nodeID string) {
	c.claimRequests.Add(1)
	data, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		cloudError(w, msgCloudBadBody)
		return
	}
	var body claimBody
	if err := json.Unmarshal(data, &body); err != nil {
		cloudError(w, msgCloudBadJSON)
		return
	}
	c.mu.Lock()
	p, faulty := c.faults[body.MGUID]
	c.mu.Unlock()
	if faulty && c.injectFault(w, r, p) {
		return
	}
	if id := c.refuseClaim(nodeID, body); id != "" {
		cloudError(w, id)
		return
	}
	nodeID = strings.ToLower(nodeID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, taken := c.byNode[nodeID]; taken {
		cloudError(w, msgCloudClaimed)
		return
	}
	rooms := body.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	cl := Claim{NodeID: nodeID, ND: c.assignNDLocked(body.MGUID), Hostname: body.Node.Hostname, MGUID: body.MGUID, Rooms: rooms, Time: time.Now().UTC()}
	if c.store != nil {
		line, _ := json.Marshal(cl)
		if _, err := c.store.Write(append(line, '\n')); err != nil {
			cloudError(w, msgCloudStore)
			return
		}
	}
	c.recordLocked(cl)
	w.WriteHeader(http.StatusNoContent)
}

// injectFault answers a claim from a host whose personality says Cloud
// misbehaves for it; it reports whether it answered.
func (c *cloud) injectFault(w http.ResponseWriter, r *http.Request, p Personality) bool {
	if p.Has(FaultCloudSlow) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case p.Has(FaultCloud403):
		cloudError(w, msgCloudForbidden)
	case p.Has(FaultCloud409):
		cloudError(w, msgCloudClaimed)
	case p.Has(FaultCloud422):
		cloudError(w, msgCloudRoomID)
	case p.Has(FaultCloudHostile):
		cloudError(w, msgCloudHostile)
	case p.Has(FaultCloud102):
		// Real Cloud answers 102; HTTP clients treat a 1xx as informational and
		// keep waiting, so the lab sends a final 503 carrying the same
		// errorMsgKey, which lab agents report as "Claiming is in progress".
		cloudError(w, msgCloudProcessing)
	case p.Has(FaultCloud500):
		cloudError(w, msgCloud500)
	case p.Has(FaultCloud503):
		cloudError(w, msgCloud503)
	case p.Has(FaultCloud504):
		cloudError(w, msgCloud504)
	default:
		return false
	}
	return true
}

func validPublicKey(s string) bool {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" {
		return false
	}
	_, err := x509.ParsePKIXPublicKey(block.Bytes)
	return err == nil
}

// refuseClaim is the row of Cloud's refusal of a claim of nodeID with
// body, in the order Cloud checks (node id, token, node name, rooms,
// public key), or "" when the claim may go on.
func (c *cloud) refuseClaim(nodeID string, body claimBody) msgID {
	if !isUUID(nodeID) || (body.Node.ID != "" && !strings.EqualFold(body.Node.ID, nodeID)) {
		return msgCloudNodeID
	}
	c.mu.Lock()
	current := c.token
	c.mu.Unlock()
	switch {
	case body.Token != current:
		return msgCloudForbidden
	case strings.TrimSpace(body.Node.Hostname) == "":
		return msgCloudNodeName
	}
	for _, room := range body.Rooms {
		if !slices.ContainsFunc(c.rooms, func(rm Room) bool { return rm.ID == room }) {
			return msgCloudRoomID
		}
	}
	if !validPublicKey(body.PublicKey) {
		return msgCloudPublicKey
	}
	return ""
}

func (c *cloud) handleClaims(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") != ""
	c.mu.Lock()
	out := make([]Claim, 0, len(c.byGUID))
	for _, cl := range c.claims {
		if all || cl.ReplacedBy == "" {
			out = append(out, cl)
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// logWriter adapts a printf-style logger to an io.Writer.
type logWriter func(string, ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
