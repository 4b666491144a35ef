package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The lab Cloud's user API: the few endpoints of Netdata Cloud's API that
// fleetclaim uses, with the shapes Netdata's own clients expect, answered
// from the claims the lab Cloud really received. Requests need
// "Authorization: Bearer TOKEN" with the token in DIR/api-token (full access)
// or DIR/api-token-readonly (reads only: writes get 403).
//
//	GET  /api/v3/spaces                                     [{id,name,description}]
//	GET  /api/v2/spaces/{space}/rooms                       [{id,name,description}]
//	POST /api/v3/spaces/{space}/rooms/{room}/nodes          {"nodes":[{nd,nm,state}]}
//	     body {"scope":{"nodes":[ids]}}: only those nodes (an empty list: all)
//	POST /api/v1/spaces/{space}/rooms/{room}/claimed-nodes  body ["node-id", ...]
//
// Node ids are the ids Cloud assigned (Claim.ND), never claimed ids: the
// listing's fields are those netdata/terraform-provider-netdata reads
// (internal/client/models.go:86-90: nd, nm, state), and the provider adds
// a node to a room by the nd it found by name in "All nodes"
// (internal/provider/node_room_member.go:182-216).
//	POST /api/v1/spaces/{space}/token/rotate                {"token": NEW} (the old token stops working)
//	DELETE /api/v1/spaces/{space}/rooms/{room}/claimed-nodes?node_ids=ID,...
//	     (terraform-provider-netdata internal/client/node_room_member.go
//	     DeleteNodeRoomMember, commit f86f47e; its client takes any 2xx as
//	     success, internal/client/client.go:54): the nodes leave the room,
//	     not the Space
//
// Node states: reachable (connected now), unreachable (connected once, not
// now), unseen (claimed, never connected).
//
// Faults for clients' retry tests: DIR/api-faults, when it exists, holds
// lines "STATUS COUNT [RETRY-AFTER]": the next COUNT API requests (COUNT
// "*": every one) are answered STATUS, with a Retry-After header when
// given; the lines are used in order and the file is rewritten as they are
// used up.

const labSpaceName = "fleetclaim lab"

func (c *cloud) serveAPI(w http.ResponseWriter, r *http.Request) {
	if c.apiFault(w) {
		return
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	write := r.Method != http.MethodGet
	switch {
	case auth == c.apiToken:
	case auth == c.readToken && !write:
	case auth == c.readToken:
		cloudError(w, msgAPIScope)
		return
	default:
		cloudError(w, msgAPIUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// parts[0] = "api", parts[1] = version
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[1] == "v3" && parts[2] == "spaces":
		writeJSON(w, []Room{{ID: c.spaceID, Name: labSpaceName, Description: "the fleetclaim lab Space"}})
	case len(parts) >= 4 && parts[2] == "spaces" && parts[3] != c.spaceID:
		cloudError(w, msgAPISpace)
	case r.Method == http.MethodGet && len(parts) == 5 && parts[1] == "v2" && parts[4] == "rooms":
		writeJSON(w, c.rooms)
	case (len(parts) == 7 || len(parts) == 8) && parts[1] == "v3" && parts[4] == "rooms" && parts[6] == "node-membership-rules":
		c.apiRules(w, r, parts)
	case r.Method == http.MethodPost && len(parts) == 7 && parts[1] == "v3" && parts[4] == "rooms" && parts[6] == "nodes":
		c.apiRoomNodes(w, r, parts[5])
	case r.Method == http.MethodPost && len(parts) == 7 && parts[1] == "v1" && parts[4] == "rooms" && parts[6] == "claimed-nodes":
		c.apiAddToRoom(w, r, parts[5])
	case r.Method == http.MethodDelete && len(parts) == 7 && parts[1] == "v1" && parts[4] == "rooms" && parts[6] == "claimed-nodes":
		c.apiRemoveFromRoom(w, r, parts[5])
	case r.Method == http.MethodPost && len(parts) == 6 && parts[1] == "v1" && parts[4] == "token" && parts[5] == "rotate":
		c.apiRotate(w)
	default:
		cloudError(w, msgCloudNotFound)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (c *cloud) roomByID(id string) (Room, bool) {
	for _, r := range c.rooms {
		if r.ID == id {
			return r, true
		}
	}
	return Room{}, false
}

// apiRoomNodes lists the nodes Cloud sees in a room, with their state: the
// nodes of the body's scope, or every node of the room when the scope names
// none.
func (c *cloud) apiRoomNodes(w http.ResponseWriter, r *http.Request, roomID string) {
	room, ok := c.roomByID(roomID)
	if !ok {
		cloudError(w, msgAPIRoom)
		return
	}
	var body struct {
		Scope struct {
			Nodes []string `json:"nodes"`
		} `json:"scope"`
	}
	if data, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20)); len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			cloudError(w, msgAPIBadRequest, "body must be {\"scope\":{\"nodes\":[...]}}")
			return
		}
	}
	type node struct {
		ND    string `json:"nd"`
		NM    string `json:"nm"`
		State string `json:"state"`
	}
	out := struct {
		Nodes []node `json:"nodes"`
	}{Nodes: []node{}}
	for _, cl := range c.roomMembers(room, body.Scope.Nodes) {
		out.Nodes = append(out.Nodes, node{ND: cl.ND, NM: cl.Hostname, State: c.nodeState(cl)})
	}
	writeJSON(w, out)
}

// roomMembers are the active claims in room, of the node ids scope when
// it names any.
func (c *cloud) roomMembers(room Room, scope []string) []Claim {
	c.mu.Lock()
	// With rules, every active node may be in the room: the rules decide,
	// from labels read once the lock is released.
	rules := slices.Clone(c.rules[room.ID])
	direct := func(cl Claim) bool {
		if slices.Contains(c.leftRooms[cl.ND], room.ID) {
			return false // removed through the API (DELETE .../claimed-nodes)
		}
		return room.Name == allNodesRoom || slices.Contains(cl.Rooms, room.ID) || slices.Contains(c.extraRooms[cl.ND], room.ID)
	}
	in := func(cl Claim) bool { return cl.ReplacedBy == "" && (len(rules) > 0 || direct(cl)) }
	var active []Claim
	var byRule []bool
	add := func(cl Claim) {
		active = append(active, cl)
		byRule = append(byRule, !direct(cl))
	}
	if len(scope) == 0 {
		active = make([]Claim, 0, len(c.byGUID))
		for _, cl := range c.claims {
			if in(cl) {
				add(cl)
			}
		}
	} else {
		for _, id := range scope {
			if i, ok := c.byND[strings.ToLower(id)]; ok && in(c.claims[i]) {
				add(c.claims[i])
			}
		}
	}
	c.mu.Unlock()
	if len(rules) == 0 {
		return active
	}
	kept := active[:0]
	for i, cl := range active {
		if !byRule[i] || (c.labels != nil && ruleAdmits(rules, c.labels(cl.MGUID))) {
			kept = append(kept, cl)
		}
	}
	return kept
}

// nodeState is a claimed node's state as the room's node list gives it.
func (c *cloud) nodeState(cl Claim) string {
	switch {
	case c.online(cl.MGUID):
		return "reachable"
	case c.everOnline != nil && !c.everOnline(cl.MGUID):
		return "unseen"
	}
	return "unreachable"
}

// apiAddToRoom adds claimed nodes of the Space to a room.
func (c *cloud) apiAddToRoom(w http.ResponseWriter, r *http.Request, roomID string) {
	if _, ok := c.roomByID(roomID); !ok {
		cloudError(w, msgAPIRoom)
		return
	}
	var ids []string
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(data, &ids); err != nil {
		cloudError(w, msgAPIBadRequest, "body must be a JSON array of node ids")
		return
	}
	c.changeRoom(w, roomID, ids, c.addRoomLocked, storeLine{RoomAdd: &roomAdd{Room: roomID, NodeIDs: ids}})
}

// changeRoom checks that every node of ids is in the Space, applies change
// to them in roomID, records it in the store and answers.
func (c *cloud) changeRoom(w http.ResponseWriter, roomID string, ids []string, change func(roomID string, ids []string), line storeLine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if _, ok := c.byND[strings.ToLower(id)]; !ok {
			cloudError(w, msgAPINotInSpace, id)
			return
		}
	}
	change(roomID, ids)
	if c.store != nil {
		b, _ := json.Marshal(line)
		_, _ = c.store.Write(append(b, '\n'))
	}
	writeJSON(w, map[string]any{})
}

func (c *cloud) addRoomLocked(roomID string, ids []string) {
	moveRoom(c.leftRooms, c.extraRooms, roomID, ids)
}

// moveRoom takes roomID out of each node's list in from and puts it in to.
func moveRoom(from, to map[string][]string, roomID string, ids []string) {
	for _, id := range ids {
		id = strings.ToLower(id)
		from[id] = slices.DeleteFunc(from[id], func(r string) bool { return r == roomID })
		if !slices.Contains(to[id], roomID) {
			to[id] = append(to[id], roomID)
		}
	}
}

// apiRemoveFromRoom removes nodes of the Space from a room; they stay in
// the Space (and in "All nodes").
func (c *cloud) apiRemoveFromRoom(w http.ResponseWriter, r *http.Request, roomID string) {
	if _, ok := c.roomByID(roomID); !ok {
		cloudError(w, msgAPIRoom)
		return
	}
	ids := strings.Split(r.URL.Query().Get("node_ids"), ",")
	c.changeRoom(w, roomID, ids, c.leaveRoomLocked, storeLine{RoomRemove: &roomAdd{Room: roomID, NodeIDs: ids}})
}

func (c *cloud) leaveRoomLocked(roomID string, ids []string) {
	moveRoom(c.extraRooms, c.leftRooms, roomID, ids)
}

// apiRotate replaces the claim token; the old one is refused from now on.
func (c *cloud) apiRotate(w http.ResponseWriter) {
	c.mu.Lock()
	c.token = "rotated-" + strings.ReplaceAll(randomUUID()+randomUUID(), "-", "")
	tok := c.token
	c.mu.Unlock()
	if err := writeFileAtomic(filepath.Join(c.dir, "token"), []byte(tok+"\n"), 0o600); err != nil {
		cloudError(w, msgAPIStoreToken)
		return
	}
	writeJSON(w, map[string]string{"token": tok})
}

// writeAPITokens writes DIR/api-token and DIR/api-token-readonly.
func (c *cloud) writeAPITokens() error {
	if err := writeFileAtomic(filepath.Join(c.dir, "api-token"), []byte(c.apiToken+"\n"), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.dir, "api-token-readonly"), []byte(c.readToken+"\n"), 0o600)
}

// apiFault answers an API request from DIR/api-faults; it reports whether
// it answered.
func (c *cloud) apiFault(w http.ResponseWriter) bool {
	c.apiFaultsMu.Lock()
	defer c.apiFaultsMu.Unlock()
	path := filepath.Join(c.dir, "api-faults")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		status, err := strconv.Atoi(f[0])
		if err != nil || status < 400 || status > 599 {
			continue
		}
		if f[1] != "*" {
			n, err := strconv.Atoi(f[1])
			if err != nil || n <= 0 {
				continue
			}
			if n == 1 {
				lines = append(lines[:i:i], lines[i+1:]...)
			} else {
				lines[i] = fmt.Sprintf("%d %d %s", status, n-1, strings.Join(f[2:], " "))
			}
			if len(lines) == 0 {
				_ = os.Remove(path)
			} else {
				_ = writeFileAtomic(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
			}
		}
		if len(f) > 2 {
			w.Header().Set("Retry-After", f[2])
		}
		cloudErrorAt(w, status, msgAPIFault, f[0])
		return true
	}
	return false
}
