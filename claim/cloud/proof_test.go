package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
)

const (
	roomAll  = "a0000000-0000-4000-8000-000000000000"
	roomProd = "b0000000-0000-4000-8000-000000000000"
	roomWeb  = "c0000000-0000-4000-8000-000000000000"
)

func proofTarget(api *API) *Target {
	return &Target{API: api, Space: Space{ID: "S", Name: "lab"}, Rooms: []Room{
		{ID: roomAll, Name: "All nodes"}, {ID: roomProd, Name: "production"}, {ID: roomWeb, Name: "web servers"}}}
}

func nodesPath(room string) string { return "POST /api/v3/spaces/S/rooms/" + room + "/nodes" }

func nodesBody(nodes ...string) string {
	var parts []string
	for _, n := range nodes {
		id, state, _ := strings.Cut(n, "=")
		parts = append(parts, fmt.Sprintf(`{"nd":%q,"nm":"h","state":%q}`, id, state))
	}
	return `{"nodes":[` + strings.Join(parts, ",") + `]}`
}

// proofTestDeadline bounds every wait of the proof tests: a proof that never
// answers, or a state never reached, fails the test saying what it waited
// for instead of hanging until the test binary's timeout.
const proofTestDeadline = 30 * time.Second

// proofCtx is the context of a proof test's Check calls: it ends at the
// test's deadline.
func proofCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), proofTestDeadline)
	t.Cleanup(cancel)
	return ctx
}

// waitProof polls cond until it holds; after proofTestDeadline it fails the
// test with what it waited for.
func waitProof(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(proofTestDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after %v, for %s", proofTestDeadline, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// heldAnswer returns a channel that holds a fake answer back and the func
// that releases it. The release also runs when the test ends, before the
// fake Cloud closes (which waits for the held request), so that a test
// failing first cannot hang there.
func heldAnswer(t *testing.T) (chan struct{}, func()) {
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	return hold, release
}

// waitDone waits for done, at most proofTestDeadline.
func waitDone[T any](t *testing.T, what string, done <-chan T) T {
	t.Helper()
	select {
	case v := <-done:
		return v
	case <-time.After(proofTestDeadline):
		t.Fatalf("still waiting, after %v, for %s", proofTestDeadline, what)
	}
	var zero T
	return zero
}

func TestCloudProof(t *testing.T) {
	cases := []struct {
		name        string
		rooms       []string
		all, prod   string
		status      claim.Status
		category    claim.Category
		fix         bool
		wantCat     claim.Category
		wantStatus  claim.Status
		wantCheck   claim.CloudCheck
		wantMsg     string
		wantAddCall int
	}{
		{name: "confirmed", rooms: []string{roomProd}, all: nodesBody("n1=reachable"), prod: nodesBody("n1=reachable"),
			status: claim.StatusClaimed, wantStatus: claim.StatusClaimed,
			wantCheck: claim.CloudCheck{Space: "lab", Listed: true, Rooms: []string{"production"}, State: "reachable", Confirmed: true}},
		{name: "not listed", rooms: []string{roomProd}, all: nodesBody("n9=reachable"), prod: nodesBody(),
			status: claim.StatusClaimed, wantStatus: claim.StatusFailed, wantCat: claim.CatCloudMissing, wantMsg: "Cloud does not list node n1 in Space lab",
			wantCheck: claim.CloudCheck{Space: "lab", Missing: []string{"production"}}},
		{name: "unseen (agent stopped before it connected)", all: nodesBody("n1=unseen"),
			status: claim.StatusFailed, category: claim.CatClaimedOffline, wantStatus: claim.StatusFailed, wantCat: claim.CatClaimedOffline, wantMsg: "claimed and online; Cloud lists node n1 as unseen: claimed, but it never connected",
			wantCheck: claim.CloudCheck{Space: "lab", Listed: true, Rooms: []string{"All nodes"}, State: "unseen"}},
		{name: "missing from one room", rooms: []string{roomProd}, all: nodesBody("n1=reachable"), prod: nodesBody(),
			status: claim.StatusAlreadyClaimed, wantStatus: claim.StatusFailed, wantCat: claim.CatCloudMissing, wantMsg: "but not in room production",
			wantCheck: claim.CloudCheck{Space: "lab", Listed: true, Rooms: []string{"All nodes"}, Missing: []string{"production"}, State: "reachable"}},
		{name: "fix rooms adds, never removes", rooms: []string{roomProd}, all: nodesBody("n1=reachable"), prod: nodesBody(), fix: true,
			status: claim.StatusAlreadyClaimed, wantStatus: claim.StatusAlreadyClaimed, wantAddCall: 1,
			wantCheck: claim.CloudCheck{Space: "lab", Listed: true, Rooms: []string{"All nodes", "production"}, State: "reachable", Confirmed: true, Added: []string{"production"}}},
		{name: "other failures keep their category", all: nodesBody(),
			status: claim.StatusFailed, category: claim.CatTokenRejected, wantStatus: claim.StatusFailed, wantCat: claim.CatTokenRejected,
			wantCheck: claim.CloudCheck{Space: "lab", Missing: []string{"All nodes"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeCloud(t)
			f.set(nodesPath(roomAll), fakeAnswer{status: 200, body: tc.all})
			f.set(nodesPath(roomProd), fakeAnswer{status: 200, body: tc.prod})
			f.set("POST /api/v1/spaces/S/rooms/"+roomProd+"/claimed-nodes", fakeAnswer{status: 200, body: "{}"})
			api := testAPI(t, srv.URL, nil)
			target := proofTarget(api)
			p := &Proof{Target: func(*inventory.Host) *Target { return target }, FixRooms: tc.fix}
			h := &inventory.Host{Name: "h1", Claim: inventory.Claim{Rooms: tc.rooms}}
			res := claim.Result{Host: "h1", Status: tc.status, Category: tc.category, ClaimedID: "C1", NodeID: "N1", Message: "claimed and online"}
			p.Check(proofCtx(t), h, &res)
			if res.Status != tc.wantStatus || res.Category != tc.wantCat {
				t.Errorf("status %s category %q, want %s %q (%s)", res.Status, res.Category, tc.wantStatus, tc.wantCat, res.Message)
			}
			if !strings.Contains(res.Message, tc.wantMsg) {
				t.Errorf("message %q, want %q", res.Message, tc.wantMsg)
			}
			if res.Cloud == nil {
				t.Fatal("no cloud record")
			}
			if got, want := fmt.Sprintf("%+v", *res.Cloud), fmt.Sprintf("%+v", tc.wantCheck); got != want {
				t.Errorf("cloud\n got %s\nwant %s", got, want)
			}
			if c := f.count("POST /api/v1/spaces/S/rooms/" + roomProd + "/claimed-nodes"); c != tc.wantAddCall {
				t.Errorf("%d room additions, want %d", c, tc.wantAddCall)
			}
			if tc.wantCat == claim.CatCloudMissing && !strings.Contains(res.Remedy, "firewall") {
				t.Errorf("remedy %q", res.Remedy)
			}
		})
	}
}

// TestCloudProofBatchesHosts: hosts that wait at once are asked about
// together: one request per room names every node waiting on it, not one
// request per host and room. The first request is held back until every
// other host waits, so the count does not depend on timing.
func TestCloudProofBatchesHosts(t *testing.T) {
	for _, batch := range []int{0, 50} {
		t.Run(fmt.Sprint("batch ", batch), func(t *testing.T) { testCloudProofBatches(t, batch) })
	}
}

func testCloudProofBatches(t *testing.T, batch int) {
	f, srv := newFakeCloud(t)
	var all []string
	for i := range 200 {
		all = append(all, fmt.Sprintf("n%d=reachable", i))
	}
	hold, release := heldAnswer(t)
	f.set(nodesPath(roomWeb), fakeAnswer{status: 200, body: nodesBody(all...), hold: hold}, fakeAnswer{status: 200, body: nodesBody(all...)})
	api := testAPI(t, srv.URL, nil)
	target := proofTarget(api)
	p := &Proof{Target: func(*inventory.Host) *Target { return target }, Refresh: time.Millisecond, Wait: time.Hour, Batch: batch}
	var wg sync.WaitGroup
	results := make([]claim.Result, 200)
	ctx := proofCtx(t)
	for i := range results {
		wg.Go(func() {
			h := &inventory.Host{Name: fmt.Sprint("h", i), Claim: inventory.Claim{Rooms: []string{roomWeb}}}
			results[i] = claim.Result{Status: claim.StatusClaimed, ClaimedID: fmt.Sprintf("C%d", i), NodeID: fmt.Sprintf("N%d", i)}
			p.Check(ctx, h, &results[i])
		})
	}
	named := func(room string) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, b := range f.bodies["POST /api/v3/spaces/S/rooms/"+room+"/nodes"] {
			var req struct {
				Scope struct{ Nodes []string } `json:"scope"`
			}
			if err := json.Unmarshal([]byte(b), &req); err != nil {
				t.Fatal(err)
			}
			n += len(req.Scope.Nodes)
		}
		return n
	}
	// Wait until the first request is in flight and every other host
	// waits.
	waitProof(t, "the first request in flight and the 199 other hosts waiting", func() bool {
		p.mu.Lock()
		queued := 0
		for _, q := range p.rooms {
			for _, asks := range q.waiting {
				queued += len(asks)
			}
		}
		p.mu.Unlock()
		return f.count(nodesPath(roomWeb)) == 1 && queued+named(roomWeb) == 200
	})
	release()
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	waitDone(t, "every host's proof", allDone)
	for i, r := range results {
		if r.Cloud == nil || !r.Cloud.Confirmed {
			t.Fatalf("host %d: %+v", i, r.Cloud)
		}
	}
	if c := f.count(nodesPath(roomAll)); c != 0 {
		t.Errorf("All nodes asked %d times for hosts confirmed in their own room", c)
	}
	for _, room := range []string{roomWeb} {
		c := f.count(nodesPath(room))
		if batch == 0 && c > 2 {
			t.Errorf("room %s: %d requests for 200 hosts, want at most 2 (the first, then every host that waited meanwhile)", room, c)
		}
		f.mu.Lock()
		for _, b := range f.bodies["POST /api/v3/spaces/S/rooms/"+room+"/nodes"] {
			if n := strings.Count(b, `"N`); batch > 0 && n > batch {
				t.Errorf("room %s: a request names %d nodes, more than the batch of %d", room, n, batch)
			}
		}
		f.mu.Unlock()
		named := named(room)
		if named != 200 {
			t.Errorf("room %s: %d nodes named over all requests, want each of the 200 once", room, named)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, q := range p.rooms {
		if len(q.waiting) != 0 || len(q.order) != 0 {
			t.Errorf("room %s still holds %d waiting nodes after every host had its answer", k.room, len(q.waiting))
		}
	}
}

// TestCloudProofWaitsForTheNode: a node that appears on a later listing is
// confirmed; the listing is fetched again rather than served from the cache.
func TestCloudProofWaitsForTheNode(t *testing.T) {
	f, srv := newFakeCloud(t)
	f.set(nodesPath(roomAll), fakeAnswer{status: 200, body: nodesBody()}, fakeAnswer{status: 200, body: nodesBody("n1=unseen")},
		fakeAnswer{status: 200, body: nodesBody("n1=reachable")})
	api := testAPI(t, srv.URL, nil)
	target := proofTarget(api)
	p := &Proof{Target: func(*inventory.Host) *Target { return target }, Refresh: time.Millisecond, Wait: time.Hour}
	res := claim.Result{Status: claim.StatusClaimed, ClaimedID: "c1", NodeID: "n1"}
	p.Check(proofCtx(t), &inventory.Host{Name: "h"}, &res)
	if res.Cloud == nil || !res.Cloud.Confirmed || res.Status != claim.StatusClaimed {
		t.Fatalf("%+v %+v", res, res.Cloud)
	}
	if c := f.count(nodesPath(roomAll)); c != 3 {
		t.Errorf("%d listings, want 3", c)
	}
}

// TestCloudProofAPIFailure: an API that keeps failing is recorded, the
// host's own outcome stays, and the wait ends.
func TestCloudProofAPIFailure(t *testing.T) {
	f, srv := newFakeCloud(t)
	f.set(nodesPath(roomAll), fakeAnswer{status: 503})
	api := testAPI(t, srv.URL, nil)
	target := proofTarget(api)
	p := &Proof{Target: func(*inventory.Host) *Target { return target }, Wait: time.Hour}
	res := claim.Result{Status: claim.StatusClaimed, ClaimedID: "c1", NodeID: "n1"}
	p.Check(proofCtx(t), &inventory.Host{Name: "h"}, &res)
	if res.Status != claim.StatusClaimed || res.Cloud == nil || !strings.Contains(res.Cloud.Error, "gave up after 4 attempts") || len(res.Warnings) != 1 {
		t.Fatalf("%+v %+v", res, res.Cloud)
	}
	if c := f.count(nodesPath(roomAll)); c != 4 {
		t.Errorf("%d calls, want 4", c)
	}
}

// TestCloudProofCancel: a host whose run is cancelled stops waiting at once,
// and a request nobody waits for any more is abandoned.
func TestCloudProofCancel(t *testing.T) {
	f, srv := newFakeCloud(t)
	hold, _ := heldAnswer(t)
	f.set(nodesPath(roomAll), fakeAnswer{status: 200, body: nodesBody("n1=reachable"), hold: hold})
	api := testAPI(t, srv.URL, nil)
	target := proofTarget(api)
	p := &Proof{Target: func(*inventory.Host) *Target { return target }, Wait: time.Hour}
	ctx, cancel := context.WithCancel(proofCtx(t))
	res := claim.Result{Status: claim.StatusClaimed, ClaimedID: "c1", NodeID: "n1"}
	done := make(chan struct{})
	go func() {
		p.Check(ctx, &inventory.Host{Name: "h"}, &res)
		close(done)
	}()
	waitProof(t, "the room's request", func() bool { return f.count(nodesPath(roomAll)) > 0 })
	cancel()
	waitDone(t, "the cancelled host to stop waiting", done)
	if res.Cloud == nil || res.Cloud.Confirmed || res.Cloud.Error != context.Canceled.Error() || len(res.Warnings) != 0 || res.Status != claim.StatusClaimed {
		t.Fatalf("%+v %+v", res, res.Cloud)
	}
	// The room's server ends: its request was cancelled, nothing waits.
	waitProof(t, "the room's server to end once nobody waits", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, q := range p.rooms {
			if q.serving {
				return false
			}
		}
		return true
	})
}

// TestCloudProofDrain: a first question waiting out Refresh to gather more
// hosts goes at once when the fleet says no more hosts are coming, and so
// does one asked after that; a question asked again (a node not reachable
// yet) keeps the Refresh spacing.
func TestCloudProofDrain(t *testing.T) {
	f, srv := newFakeCloud(t)
	f.set(nodesPath(roomWeb), fakeAnswer{status: 200, body: nodesBody("n1=reachable", "n2=reachable", "n3=reachable", "n4=unseen")})
	api := testAPI(t, srv.URL, nil)
	target := proofTarget(api)
	p := &Proof{Target: func(*inventory.Host) *Target { return target }, Refresh: time.Hour, Wait: time.Hour}
	h := &inventory.Host{Name: "h", Claim: inventory.Claim{Rooms: []string{roomWeb}}}
	check := func(ctx context.Context, node string) *claim.Result {
		r := &claim.Result{Status: claim.StatusClaimed, ClaimedID: "c-" + node, NodeID: node}
		p.Check(ctx, h, r)
		return r
	}
	ctx := proofCtx(t)
	first := check(ctx, "n1") // the room's first request goes at once
	done := make(chan *claim.Result, 1)
	go func() { done <- check(ctx, "n2") }() // waits out the hour
	waitProof(t, "the second host's question to wait", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for _, q := range p.rooms {
			n += len(q.waiting)
		}
		return n == 1
	})
	p.Drain()
	second := waitDone(t, "the waiting question to go after Drain", done)
	third := check(ctx, "n3") // after Drain: at once
	for i, r := range []*claim.Result{first, second, third} {
		if r.Cloud == nil || !r.Cloud.Confirmed {
			t.Fatalf("host %d: %+v", i+1, r.Cloud)
		}
	}
	if c := f.count(nodesPath(roomWeb)); c != 3 {
		t.Fatalf("%d requests for 3 hosts, want 3", c)
	}
	// n4 is listed but not reachable: its first question goes at once, the
	// second waits out Refresh (here: until the host gives up).
	ctx4, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	fourth := check(ctx4, "n4")
	if fourth.Cloud == nil || fourth.Cloud.Confirmed || fourth.Cloud.State != "unseen" {
		t.Fatalf("host 4: %+v", fourth.Cloud)
	}
	if c := f.count(nodesPath(roomWeb)); c != 4 {
		t.Errorf("%d requests after a node that is not reachable, want 4 (asking again waits out Refresh)", c)
	}
}

// TestCloudProofByName: a node whose agent did not report its node id (it
// is null until the link is up) is found in the room's whole listing by
// its node name; a name two nodes share finds neither.
func TestCloudProofByName(t *testing.T) {
	for _, tc := range []struct {
		name, listing string
		wantStatus    claim.Status
		wantNode, msg string
	}{
		{"one node of that name", `{"nodes":[{"nd":"n7","nm":"web-1","state":"reachable"},{"nd":"n8","nm":"web-2","state":"reachable"}]}`,
			claim.StatusClaimed, "n7", ""},
		{"two nodes of that name", `{"nodes":[{"nd":"n7","nm":"web-1","state":"reachable"},{"nd":"n8","nm":"web-1","state":"reachable"}]}`,
			claim.StatusFailed, "", `Cloud lists 2 nodes named "web-1" in Space lab, and the agent did not report its node id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeCloud(t)
			f.set(nodesPath(roomAll), fakeAnswer{status: 200, body: tc.listing})
			target := proofTarget(testAPI(t, srv.URL, nil))
			p := &Proof{Target: func(*inventory.Host) *Target { return target }}
			res := claim.Result{Host: "h1", Status: claim.StatusClaimed, ClaimedID: "c1", NodeName: "web-1", Message: "claimed and online"}
			p.Check(proofCtx(t), &inventory.Host{Name: "h1"}, &res)
			if res.Status != tc.wantStatus || res.NodeID != tc.wantNode || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("%s node %q: %s", res.Status, res.NodeID, res.Message)
			}
			f.mu.Lock()
			bodies := f.bodies[nodesPath(roomAll)]
			f.mu.Unlock()
			if len(bodies) != 1 || !strings.Contains(bodies[0], `"nodes":[]`) {
				t.Errorf("requests %q, want one for the whole listing", bodies)
			}
		})
	}
}
