package claim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// CloudCheck is what Netdata Cloud itself says of a host's node.
type CloudCheck struct {
	// Space is the Space asked (its name, or its id when the name is unknown).
	Space string `json:"space"`
	// Listed: Cloud lists the node in at least one of the rooms asked.
	Listed bool `json:"listed"`
	// Rooms are the rooms that list the node; Missing the target rooms
	// that do not (names where known, else ids).
	Rooms   []string `json:"rooms,omitempty"`
	Missing []string `json:"missing,omitempty"`
	// State is Cloud's state of the node: reachable, unreachable, stale,
	// unseen (claimed, never connected), … ("" when not listed).
	State string `json:"state,omitempty"`
	// Confirmed: listed in every target room and reachable.
	Confirmed bool `json:"confirmed"`
	// Added are the rooms --fix-rooms added the node to.
	Added []string `json:"added,omitempty"`
	// Error is why Cloud could not be asked.
	Error string `json:"error,omitempty"`
}

// CloudTarget is one Space fleetclaim asks about, through one API client.
type CloudTarget struct {
	API   *CloudAPI
	Space CloudSpace
	// Rooms of the Space, as listed once at the start of the run.
	Rooms []CloudRoom
}

// roomName returns a room's name for messages, its id when unknown.
func (t *CloudTarget) roomName(id string) string {
	for _, r := range t.Rooms {
		if strings.EqualFold(r.ID, id) {
			return r.Name
		}
	}
	return id
}

// allNodes returns the id of the Space's "All nodes" room, or "".
func (t *CloudTarget) allNodes() string {
	for _, r := range t.Rooms {
		if strings.EqualFold(r.Name, "All nodes") {
			return r.ID
		}
	}
	return ""
}

func (t *CloudTarget) spaceLabel() string {
	if t.Space.Name != "" {
		return t.Space.Name
	}
	return t.Space.ID
}

// CloudProof asks Cloud, after each host's run, whether the host's node is
// listed and reachable in every room it was claimed into. A fleet run has
// one CloudProof: the listing of a room is shared by every host, fetched at
// most once per Refresh however many hosts wait for it, so a thousand hosts
// in three rooms cost a few calls every Refresh, not thousands.
type CloudProof struct {
	// Target returns the Space a host is checked in; nil skips the host.
	Target func(h *inventory.Host) *CloudTarget
	// Wait is how long a host waits for its node to be listed and
	// reachable; 0 looks once.
	Wait time.Duration
	// Refresh is the shortest time between two listings of one room
	// (default 1s).
	Refresh time.Duration
	// FixRooms adds nodes that Cloud lists in the Space but not in one of
	// their rooms to that room (never removes).
	FixRooms bool

	mu    sync.Mutex
	rooms map[roomKey]*roomListing
}

type roomKey struct {
	api         *CloudAPI
	space, room string
}

// roomListing is the shared, cached node list of one room.
type roomListing struct {
	lock  chan struct{} // held while fetching: one fetch at a time
	at    time.Time     // when the listing was fetched (zero: never)
	nodes map[string]CloudNode
	err   error
}

func (p *CloudProof) listing(k roomKey) *roomListing {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rooms == nil {
		p.rooms = map[roomKey]*roomListing{}
	}
	l, ok := p.rooms[k]
	if !ok {
		l = &roomListing{lock: make(chan struct{}, 1)}
		p.rooms[k] = l
	}
	return l
}

// nodesIn returns a room's listing fetched after since, fetching it when
// needed, but never sooner than Refresh after the previous fetch.
func (p *CloudProof) nodesIn(ctx context.Context, t *CloudTarget, room string, since time.Time) (map[string]CloudNode, time.Time, error) {
	l := p.listing(roomKey{t.API, t.Space.ID, room})
	select {
	case l.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
	defer func() { <-l.lock }()
	if l.at.After(since) {
		return l.nodes, l.at, l.err
	}
	refresh := p.Refresh
	if refresh <= 0 {
		refresh = time.Second
	}
	if d := time.Until(l.at.Add(refresh)); !l.at.IsZero() && d > 0 {
		if err := apiSleep(ctx, d); err != nil {
			return nil, time.Time{}, err
		}
	}
	nodes, err := t.API.RoomNodes(ctx, t.Space.ID, room)
	l.at = time.Now()
	l.err = err
	l.nodes = make(map[string]CloudNode, len(nodes))
	for _, n := range nodes {
		l.nodes[strings.ToLower(n.ID)] = n
	}
	return l.nodes, l.at, l.err
}

// invalidate makes the next look at a room fetch it again.
func (p *CloudProof) invalidate(t *CloudTarget, room string) {
	l := p.listing(roomKey{t.API, t.Space.ID, room})
	select {
	case l.lock <- struct{}{}:
		l.at = time.Time{}
		<-l.lock
	default:
	}
}

// Check asks Cloud about the host's node and records the answer in res. A
// host whose node is claimed (by its own account) but not listed and
// reachable in every target room after Wait fails with cloud-missing.
func (p *CloudProof) Check(ctx context.Context, h *inventory.Host, res *Result) {
	if res.ClaimedID == "" || res.Status == StatusPlanned || res.Status == StatusSkipped {
		return
	}
	t := p.Target(h)
	if t == nil {
		return
	}
	start := time.Now()
	defer func() {
		res.Steps = append(res.Steps, Step{Name: "cloud", Millis: time.Since(start).Milliseconds()})
		res.End = time.Now().UTC()
	}()
	node := strings.ToLower(res.ClaimedID)
	targets := slices.Clone(h.Claim.Rooms)
	if all := t.allNodes(); all != "" && !slices.ContainsFunc(targets, func(r string) bool { return strings.EqualFold(r, all) }) {
		targets = append(targets, all)
	}
	chk := &CloudCheck{Space: t.spaceLabel()}
	res.Cloud = chk
	if len(targets) == 0 {
		chk.Error = "the Space has no \"All nodes\" room and the host names no rooms"
		return
	}
	// Only a host that ended well waits for Cloud; the others are looked
	// at once, for the record.
	wait := p.Wait
	if !res.Status.OK() {
		wait = 0
	}
	deadline := start.Add(wait)
	var since time.Time
	for {
		var in, missing []string
		state := ""
		var newest time.Time
		for _, room := range targets {
			nodes, at, err := p.nodesIn(ctx, t, room, since)
			if err != nil {
				chk.Error = err.Error()
				if ctx.Err() == nil {
					res.Warnings = append(res.Warnings, "Cloud could not be asked about this node: "+err.Error())
				}
				return
			}
			if at.After(newest) {
				newest = at
			}
			if n, ok := nodes[node]; ok {
				in = append(in, room)
				state = n.State
			} else {
				missing = append(missing, room)
			}
		}
		if p.FixRooms && len(in) > 0 && len(missing) > 0 {
			// The node is in the Space: put it in the rooms it lacks.
			var still []string
			for _, room := range missing {
				if err := t.API.AddToRoom(ctx, t.Space.ID, room, []string{node}); err != nil {
					res.Warnings = append(res.Warnings, "could not add the node to room "+t.roomName(room)+": "+err.Error())
					still = append(still, room)
					continue
				}
				chk.Added = append(chk.Added, t.roomName(room))
				p.invalidate(t, room)
				in = append(in, room)
			}
			missing = still
		}
		chk.Listed = len(in) > 0
		chk.State = state
		chk.Rooms = names(t, in)
		chk.Missing = names(t, missing)
		chk.Confirmed = len(missing) == 0 && state == "reachable"
		if chk.Confirmed || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		since = newest
	}
	if len(chk.Added) > 0 {
		res.Plan = append(res.Plan, "added to rooms "+strings.Join(chk.Added, ", ")+" through the Cloud API")
	}
	if chk.Confirmed {
		return
	}
	what := ""
	switch {
	case !chk.Listed:
		what = fmt.Sprintf("Cloud does not list node %s in Space %s", node, chk.Space)
	case len(chk.Missing) > 0:
		what = fmt.Sprintf("Cloud lists node %s (%s) but not in room %s", node, orDefault(chk.State, "no state"), strings.Join(chk.Missing, ", "))
	case chk.State == "unseen":
		what = fmt.Sprintf("Cloud lists node %s as unseen: claimed, but it never connected", node)
	default:
		what = fmt.Sprintf("Cloud lists node %s as %s, not reachable", node, orDefault(chk.State, "having no state"))
	}
	if !res.Status.OK() {
		// The host's own failure stays the news; Cloud's view is added.
		res.Message += "; " + what
		return
	}
	res.Status = StatusFailed
	res.Category = CatCloudMissing
	res.Remedy = remedy(CatCloudMissing)
	res.Message = fmt.Sprintf("%s after %s (the host says: %s)", what, wait, orDefault(res.Message, "claimed"))
}

func names(t *CloudTarget, ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.roomName(id)
	}
	return out
}
