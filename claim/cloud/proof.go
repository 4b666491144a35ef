package cloud

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// Target is one Space fleetclaim asks about, through one API client.
type Target struct {
	API   *API
	Space Space
	// Rooms of the Space, as listed once at the start of the run.
	Rooms []Room
}

// RoomName returns a room's name for messages, its id when unknown.
func (t *Target) RoomName(id string) string {
	for _, r := range t.Rooms {
		if strings.EqualFold(r.ID, id) {
			return r.Name
		}
	}
	return id
}

// RemoveFromRoom takes nodes out of one room of the Space.
func (t *Target) RemoveFromRoom(ctx context.Context, room string, nodeIDs []string) error {
	return t.API.RemoveFromRoom(ctx, t.Space.ID, room, nodeIDs)
}

// AllNodes returns the id of the Space's "All nodes" room, or "".
func (t *Target) AllNodes() string { return t.allNodes() }

func (t *Target) allNodes() string {
	for _, r := range t.Rooms {
		if strings.EqualFold(r.Name, "All nodes") {
			return r.ID
		}
	}
	return ""
}

// SpaceName returns the Space's name for messages, its id when unknown.
func (t *Target) SpaceName() string {
	if t.Space.Name != "" {
		return t.Space.Name
	}
	return t.Space.ID
}

// Proof asks Cloud, after each host's run, whether the host's node is
// listed and reachable in every room it was claimed into. A fleet run has
// one Proof. Hosts do not ask one by one: the nodes waiting on a room
// are asked about together, in one request that names them (the request's
// scope), with one request per room in flight at a time and the API
// client's rate over all. A thousand hosts finishing together in three
// rooms cost a few requests per second, each as large as the nodes
// waiting, never the whole room's listing, and nothing is kept
// once a host has its answer: the cost stays the same whether the Space
// holds a hundred nodes or a hundred thousand.
type Proof struct {
	// Target returns the Space a host is checked in; nil skips the host.
	Target func(h *inventory.Host) *Target
	// Wait is how long a host waits for its node to be listed and
	// reachable; 0 looks once.
	Wait time.Duration
	// Refresh is the shortest time between the starts of two requests
	// about one room (default 100ms); one request per room is in flight at
	// a time, and the API client's rate bounds them all. The nodes that
	// start waiting meanwhile go into the next request.
	Refresh time.Duration
	// Batch is the most nodes one request names (default 500).
	Batch int
	// FixRooms adds nodes that Cloud lists in the Space but not in one of
	// their rooms to that room (never removes).
	FixRooms bool

	mu    sync.Mutex
	rooms map[roomKey]*roomQueue
	// drained is set by Drain; wake is closed by it, to wake the rooms'
	// servers that wait out Refresh.
	drained bool
	wake    chan struct{}
}

// Drain tells the proof that no more hosts are coming to this batch (the
// fleet engine's Drained): from then on a host's first question goes at
// once rather than wait out Refresh for company that is not coming. A
// question asked again (a node not reachable yet) keeps the Refresh
// spacing, so a node that never shows up costs no more requests than
// before.
func (p *Proof) Drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drained = true
	p.wakeServers()
}

// wakeServers wakes the rooms' servers waiting out Refresh; p.mu is held.
func (p *Proof) wakeServers() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

type roomKey struct {
	api         *API
	space, room string
}

// roomQueue holds the nodes waiting for an answer about one room. One
// goroutine serves it while anything waits, and ends when nothing does.
type roomQueue struct {
	waiting map[nodeKey][]*roomAsk
	order   []nodeKey // in the order they started waiting
	serving bool
	last    time.Time // when the previous request started
}

// nodeKey is how a host's node is found in Cloud's listing: by the node id
// Cloud assigned (the agent reports it once its link is up), else by node
// name. Cloud's listing carries nd, nm and state, not the claimed id
// (netdata/terraform-provider-netdata internal/client/models.go:86-90),
// and the provider itself finds a node by name in it
// (internal/provider/node_room_member.go:182-216).
type nodeKey struct {
	id   string // lower-case node id ("" when unknown)
	name string // node name, when id is unknown
}

func (k nodeKey) String() string {
	if k.id != "" {
		return k.id
	}
	return strconv.Quote(k.name)
}

// roomAsk is one host waiting for one room's answer about its node.
type roomAsk struct {
	ctx    context.Context
	again  bool // the host asked before (its node was not confirmed)
	node   nodeKey
	answer chan roomAnswer // buffered: the server never blocks on it
}

type roomAnswer struct {
	node   Node
	listed bool
	// named is how many nodes of the room bear the name asked (a name
	// shared by several nodes finds none of them).
	named int
	err   error
}

// ask asks about node in each room, all rooms at once, and returns the
// answers in the rooms' order. Every answer comes from a request sent after
// ask was called.
func (p *Proof) ask(ctx context.Context, t *Target, rooms []string, node nodeKey, again bool) []roomAnswer {
	asks := make([]*roomAsk, len(rooms))
	p.mu.Lock()
	if p.rooms == nil {
		p.rooms = map[roomKey]*roomQueue{}
	}
	for i, room := range rooms {
		k := roomKey{t.API, t.Space.ID, room}
		q, ok := p.rooms[k]
		if !ok {
			q = &roomQueue{waiting: map[nodeKey][]*roomAsk{}}
			p.rooms[k] = q
		}
		a := &roomAsk{ctx: ctx, again: again, node: node, answer: make(chan roomAnswer, 1)}
		if len(q.waiting[node]) == 0 {
			q.order = append(q.order, node)
		}
		q.waiting[node] = append(q.waiting[node], a)
		asks[i] = a
		if !q.serving {
			q.serving = true
			go p.serve(k, t, q)
		}
	}
	if p.drained && !again {
		// A first question after Drain: wake a server waiting out Refresh.
		p.wakeServers()
	}
	p.mu.Unlock()
	out := make([]roomAnswer, len(rooms))
	for i, a := range asks {
		select {
		case out[i] = <-a.answer:
		case <-ctx.Done():
			out[i] = roomAnswer{err: ctx.Err()}
		}
	}
	return out
}

// firstAsks reports whether a host waits on q with its first question.
func (q *roomQueue) firstAsks() bool {
	for _, asks := range q.waiting {
		for _, a := range asks {
			if !a.again && a.ctx.Err() == nil {
				return true
			}
		}
	}
	return false
}

// serve sends one room's requests while nodes wait on it, one at a time and
// at most one every Refresh, naming at most Batch nodes. A request is cancelled when every
// host waiting on it has gone (their contexts ended).
func (p *Proof) serve(k roomKey, t *Target, q *roomQueue) {
	refresh := p.Refresh
	if refresh <= 0 {
		refresh = 100 * time.Millisecond
	}
	batch := p.Batch
	if batch <= 0 {
		batch = 500
	}
	for {
		p.mu.Lock()
		if len(q.order) == 0 {
			q.serving = false
			p.mu.Unlock()
			return
		}
		if d := time.Until(q.last.Add(refresh)); !q.last.IsZero() && d > 0 && !(p.drained && q.firstAsks()) {
			if p.wake == nil {
				p.wake = make(chan struct{})
			}
			wake := p.wake
			p.mu.Unlock()
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-wake:
			}
			t.Stop()
			continue
		}
		var ids []string
		var asks []*roomAsk
		byName := false
		n := 0
		for n < len(q.order) && len(ids) < batch {
			key := q.order[n]
			n++
			live := 0
			for _, a := range q.waiting[key] {
				if a.ctx.Err() == nil {
					asks = append(asks, a)
					live++
				}
			}
			if live > 0 {
				if key.id != "" {
					ids = append(ids, key.id)
				} else {
					byName = true
				}
			}
			delete(q.waiting, key)
		}
		if byName {
			// A name is found only in the room's whole listing.
			ids = nil
		}
		q.order = q.order[n:]
		if len(q.order) == 0 {
			q.order = nil // let the backing array go
		}
		if len(asks) == 0 && len(q.order) == 0 {
			q.serving = false
			p.mu.Unlock()
			return
		}
		if len(asks) == 0 {
			p.mu.Unlock()
			continue
		}
		q.last = time.Now()
		p.mu.Unlock()
		p.answer(t, k.room, ids, asks)
	}
}

// answer sends one request and hands its answer to every host waiting on it.
func (p *Proof) answer(t *Target, room string, ids []string, asks []*roomAsk) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var live sync.WaitGroup
	live.Add(len(asks))
	stops := make([]func() bool, len(asks))
	for i, a := range asks {
		stops[i] = context.AfterFunc(a.ctx, live.Done)
	}
	go func() { live.Wait(); cancel() }()
	nodes, err := t.API.RoomNodes(ctx, t.Space.ID, room, ids)
	byID := make(map[string]Node, len(nodes))
	var byName map[string][]Node
	if ids == nil {
		byName = make(map[string][]Node, len(nodes))
	}
	for _, n := range nodes {
		byID[strings.ToLower(n.ID)] = n
		if byName != nil {
			byName[n.Name] = append(byName[n.Name], n)
		}
	}
	for i, a := range asks {
		if stops[i]() {
			live.Done()
		}
		ans := roomAnswer{err: err}
		switch {
		case err != nil:
		case a.node.id != "":
			ans.node, ans.listed = byID[a.node.id]
		default:
			named := byName[a.node.name]
			ans.named = len(named)
			if len(named) == 1 {
				ans.node, ans.listed = named[0], true
			}
		}
		a.answer <- ans
	}
}

// Check asks Cloud about the host's node and records the answer in res. A
// host whose node is claimed (by its own account) but not listed and
// reachable in every target room after Wait fails with cloud-missing.
func (p *Proof) Check(ctx context.Context, h *inventory.Host, res *claim.Result) {
	if res.ClaimedID == "" || res.Status == claim.StatusPlanned || res.Status == claim.StatusSkipped {
		return
	}
	t := p.Target(h)
	if t == nil {
		return
	}
	start := time.Now()
	defer func() {
		res.Steps = append(res.Steps, claim.Step{Name: "cloud", Millis: time.Since(start).Milliseconds()})
		res.End = time.Now().UTC()
	}()
	c := &proofCheck{p: p, t: t, res: res, chk: &claim.CloudCheck{Space: t.SpaceName()}, node: nodeKey{id: strings.ToLower(res.NodeID)}}
	if c.node.id == "" {
		c.node.name = nodeName(h, res)
	}
	c.targets, c.all, c.askAll = hostRooms(h, t)
	res.Cloud = c.chk
	if len(c.targets) == 0 {
		c.chk.Error = "the Space has no \"All nodes\" room and the host names no rooms"
		return
	}
	// Only a host that ended well waits for Cloud; the others are looked
	// at once, for the record.
	wait := p.Wait
	if !res.Status.OK() {
		wait = 0
	}
	deadline := start.Add(wait)
	for again := false; ; again = true {
		if !c.look(ctx, again) {
			return
		}
		if c.chk.Confirmed || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
	}
	c.conclude(wait)
}

// proofCheck is one host's Check while it runs.
type proofCheck struct {
	p   *Proof
	t   *Target
	res *claim.Result
	chk *claim.CloudCheck
	// node is the node looked for: by its id, else by its name until Cloud
	// names its id.
	node    nodeKey
	targets []string
	all     string
	askAll  bool
}

// look asks Cloud once whether the node is in the target rooms (and in
// "All nodes" when askAll and it is missing from one), adds it to the
// missing rooms with FixRooms, and records the answer in chk. It is false
// when the Cloud API failed, which chk.Error says.
func (c *proofCheck) look(ctx context.Context, again bool) bool {
	var in, missing []string
	state := ""
	for i, ans := range c.p.ask(ctx, c.t, c.targets, c.node, again) {
		if ans.err != nil {
			c.apiFailed(ctx, ans.err)
			return false
		}
		if ans.listed {
			in = append(in, c.targets[i])
			state = c.found(ans)
		} else {
			missing = append(missing, c.targets[i])
			c.chk.Namesakes = max(c.chk.Namesakes, ans.named)
		}
	}
	if len(missing) > 0 && c.askAll {
		ans := c.p.ask(ctx, c.t, []string{c.all}, c.node, again)[0]
		if ans.err != nil {
			c.apiFailed(ctx, ans.err)
			return false
		}
		if ans.listed {
			in = append(in, c.all)
			state = c.found(ans)
		}
		c.chk.Namesakes = max(c.chk.Namesakes, ans.named)
	}
	if c.p.FixRooms && len(in) > 0 && len(missing) > 0 {
		in, missing = fixRooms(ctx, c.t, c.node, in, missing, c.res)
	}
	c.chk.Listed = len(in) > 0
	c.chk.State = state
	c.chk.Rooms = names(c.t, in)
	c.chk.Missing = names(c.t, missing)
	c.chk.Confirmed = len(missing) == 0 && state == "reachable"
	return true
}

// found notes a room's listing of the node and returns the node's state
// there. A node found by name is looked for by the id Cloud gave it from
// then on.
func (c *proofCheck) found(ans roomAnswer) (state string) {
	if c.node.id == "" {
		c.node = nodeKey{id: strings.ToLower(ans.node.ID)}
		c.res.NodeID = c.node.id
		c.res.Plan = append(c.res.Plan, "found in Cloud by node name "+strconv.Quote(ans.node.Name)+" (the agent did not report its node id): node id "+c.node.id)
	}
	return ans.node.State
}

// apiFailed records that Cloud could not be asked (a warning unless the
// run was stopped).
func (c *proofCheck) apiFailed(ctx context.Context, err error) {
	c.chk.Error = err.Error()
	if ctx.Err() == nil {
		c.res.Warnings = append(c.res.Warnings, "Cloud could not be asked about this node: "+err.Error())
	}
}

// conclude records what Cloud's answer means for the host after wait: a
// node not confirmed fails a host that ended well (cloud-missing), and is
// added to the message of one that did not.
func (c *proofCheck) conclude(wait time.Duration) {
	res, chk := c.res, c.chk
	if len(chk.Added) > 0 {
		res.Plan = append(res.Plan, "added to rooms "+strings.Join(chk.Added, ", ")+" through the Cloud API")
	}
	if chk.Confirmed {
		return
	}
	what := notConfirmed(chk, c.node)
	if !res.Status.OK() {
		// The host's own failure stays the news; Cloud's view is added.
		res.Message += "; " + what
		return
	}
	res.Status = claim.StatusFailed
	res.Category = claim.CatCloudMissing
	res.Remedy = claim.Remedy(claim.CatCloudMissing)
	res.Message = fmt.Sprintf("%s after %s (the host says: %s)", what, wait, cmp.Or(res.Message, "claimed"))
}

// hostRooms are the rooms a host's node is looked for in: the host's
// rooms; "All nodes" (which lists every node of the Space) only for a
// host that names none, or (askAll) to tell a node that is missing from a
// room from one that is not in the Space at all.
func hostRooms(h *inventory.Host, t *Target) (targets []string, all string, askAll bool) {
	targets = h.Claim.Rooms
	all = t.allNodes()
	if len(targets) == 0 && all != "" {
		targets = []string{all}
	}
	askAll = all != "" && !slices.ContainsFunc(targets, func(r string) bool { return strings.EqualFold(r, all) })
	return targets, all, askAll
}

// fixRooms, for --fix-rooms, adds a node that is in the Space to the rooms
// it is missing from; it returns the rooms it is now in and those it is
// still missing from.
func fixRooms(ctx context.Context, t *Target, node nodeKey, in, missing []string, res *claim.Result) ([]string, []string) {
	var still []string
	for _, room := range missing {
		if err := t.API.AddToRoom(ctx, t.Space.ID, room, []string{node.id}); err != nil {
			res.Warnings = append(res.Warnings, "could not add the node to room "+t.RoomName(room)+": "+err.Error())
			still = append(still, room)
			continue
		}
		res.Cloud.Added = append(res.Cloud.Added, t.RoomName(room))
		in = append(in, room)
	}
	return in, still
}

// notConfirmed says why Cloud's answer does not confirm the node.
func notConfirmed(chk *claim.CloudCheck, node nodeKey) string {
	switch {
	case !chk.Listed && chk.Namesakes > 1:
		return fmt.Sprintf("Cloud lists %d nodes named %s in Space %s, and the agent did not report its node id: fleetclaim cannot tell which one is this host's", chk.Namesakes, node, chk.Space)
	case !chk.Listed:
		return fmt.Sprintf("Cloud does not list node %s in Space %s", node, chk.Space)
	case len(chk.Missing) > 0:
		return fmt.Sprintf("Cloud lists node %s (%s) but not in room %s", node, cmp.Or(chk.State, "no state"), strings.Join(chk.Missing, ", "))
	case chk.State == "unseen":
		return fmt.Sprintf("Cloud lists node %s as unseen: claimed, but it never connected", node)
	}
	return fmt.Sprintf("Cloud lists node %s as %s, not reachable", node, cmp.Or(chk.State, "having no state"))
}

// nodeName is the name a host's node has in Cloud: the one its agent
// reports, else the inventory's hostname, else the host's name.
func nodeName(h *inventory.Host, res *claim.Result) string {
	switch {
	case res.NodeName != "":
		return res.NodeName
	case h.Claim.Hostname != "":
		return h.Claim.Hostname
	}
	return res.Host
}

func names(t *Target, ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.RoomName(id)
	}
	return out
}
