package claim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
)

const (
	roomAll  = "a0000000-0000-4000-8000-000000000000"
	roomProd = "b0000000-0000-4000-8000-000000000000"
	roomWeb  = "c0000000-0000-4000-8000-000000000000"
)

func proofTarget(api *CloudAPI) *CloudTarget {
	return &CloudTarget{API: api, Space: CloudSpace{ID: "S", Name: "lab"}, Rooms: []CloudRoom{
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

func TestCloudProof(t *testing.T) {
	cases := []struct {
		name        string
		rooms       []string
		all, prod   string
		status      Status
		category    string
		fix         bool
		wantCat     string
		wantStatus  Status
		wantCheck   CloudCheck
		wantMsg     string
		wantAddCall int
	}{
		{name: "confirmed", rooms: []string{roomProd}, all: nodesBody("n1=reachable"), prod: nodesBody("n1=reachable"),
			status: StatusClaimed, wantStatus: StatusClaimed,
			wantCheck: CloudCheck{Space: "lab", Listed: true, Rooms: []string{"production", "All nodes"}, State: "reachable", Confirmed: true}},
		{name: "not listed", rooms: []string{roomProd}, all: nodesBody("n9=reachable"), prod: nodesBody(),
			status: StatusClaimed, wantStatus: StatusFailed, wantCat: CatCloudMissing, wantMsg: "Cloud does not list node n1 in Space lab",
			wantCheck: CloudCheck{Space: "lab", Missing: []string{"production", "All nodes"}}},
		{name: "unseen (agent stopped before it connected)", all: nodesBody("n1=unseen"),
			status: StatusFailed, category: CatClaimedOffline, wantStatus: StatusFailed, wantCat: CatClaimedOffline, wantMsg: "claimed and online; Cloud lists node n1 as unseen: claimed, but it never connected",
			wantCheck: CloudCheck{Space: "lab", Listed: true, Rooms: []string{"All nodes"}, State: "unseen"}},
		{name: "missing from one room", rooms: []string{roomProd}, all: nodesBody("n1=reachable"), prod: nodesBody(),
			status: StatusAlreadyClaimed, wantStatus: StatusFailed, wantCat: CatCloudMissing, wantMsg: "but not in room production",
			wantCheck: CloudCheck{Space: "lab", Listed: true, Rooms: []string{"All nodes"}, Missing: []string{"production"}, State: "reachable"}},
		{name: "fix rooms adds, never removes", rooms: []string{roomProd}, all: nodesBody("n1=reachable"), prod: nodesBody(), fix: true,
			status: StatusAlreadyClaimed, wantStatus: StatusAlreadyClaimed, wantAddCall: 1,
			wantCheck: CloudCheck{Space: "lab", Listed: true, Rooms: []string{"All nodes", "production"}, State: "reachable", Confirmed: true, Added: []string{"production"}}},
		{name: "other failures keep their category", all: nodesBody(),
			status: StatusFailed, category: CatTokenRejected, wantStatus: StatusFailed, wantCat: CatTokenRejected,
			wantCheck: CloudCheck{Space: "lab", Missing: []string{"All nodes"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeCloud(t)
			f.set(nodesPath(roomAll), fakeAnswer{status: 200, body: tc.all})
			f.set(nodesPath(roomProd), fakeAnswer{status: 200, body: tc.prod})
			f.set("POST /api/v1/spaces/S/rooms/"+roomProd+"/claimed-nodes", fakeAnswer{status: 200, body: "{}"})
			api := testAPI(t, srv.URL, nil)
			target := proofTarget(api)
			p := &CloudProof{Target: func(*inventory.Host) *CloudTarget { return target }, FixRooms: tc.fix}
			h := &inventory.Host{Name: "h1", Claim: inventory.Claim{Rooms: tc.rooms}}
			res := Result{Host: "h1", Status: tc.status, Category: tc.category, ClaimedID: "N1", Message: "claimed and online"}
			p.Check(context.Background(), h, &res)
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
			if tc.wantCat == CatCloudMissing && !strings.Contains(res.Remedy, "firewall") {
				t.Errorf("remedy %q", res.Remedy)
			}
		})
	}
}

// TestCloudProofSharesListings: many hosts checked at once cost one listing
// per room, not one per host and room.
func TestCloudProofSharesListings(t *testing.T) {
	f, srv := newFakeCloud(t)
	var all []string
	for i := range 200 {
		all = append(all, fmt.Sprintf("n%d=reachable", i))
	}
	f.set(nodesPath(roomAll), fakeAnswer{status: 200, body: nodesBody(all...)})
	f.set(nodesPath(roomWeb), fakeAnswer{status: 200, body: nodesBody(all...)})
	api := testAPI(t, srv.URL, nil)
	target := proofTarget(api)
	p := &CloudProof{Target: func(*inventory.Host) *CloudTarget { return target }, Refresh: time.Hour, Wait: time.Hour}
	var wg sync.WaitGroup
	results := make([]Result, 200)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &inventory.Host{Name: fmt.Sprint("h", i), Claim: inventory.Claim{Rooms: []string{roomWeb}}}
			results[i] = Result{Status: StatusClaimed, ClaimedID: fmt.Sprintf("N%d", i)}
			p.Check(context.Background(), h, &results[i])
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Cloud == nil || !r.Cloud.Confirmed {
			t.Fatalf("host %d: %+v", i, r.Cloud)
		}
	}
	if a, w := f.count(nodesPath(roomAll)), f.count(nodesPath(roomWeb)); a != 1 || w != 1 {
		t.Errorf("listings: All nodes %d, web servers %d; want 1 each", a, w)
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
	p := &CloudProof{Target: func(*inventory.Host) *CloudTarget { return target }, Refresh: time.Millisecond, Wait: time.Hour}
	res := Result{Status: StatusClaimed, ClaimedID: "n1"}
	p.Check(context.Background(), &inventory.Host{Name: "h"}, &res)
	if res.Cloud == nil || !res.Cloud.Confirmed || res.Status != StatusClaimed {
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
	p := &CloudProof{Target: func(*inventory.Host) *CloudTarget { return target }, Wait: time.Hour}
	res := Result{Status: StatusClaimed, ClaimedID: "n1"}
	p.Check(context.Background(), &inventory.Host{Name: "h"}, &res)
	if res.Status != StatusClaimed || res.Cloud == nil || !strings.Contains(res.Cloud.Error, "gave up after 4 attempts") || len(res.Warnings) != 1 {
		t.Fatalf("%+v %+v", res, res.Cloud)
	}
	if c := f.count(nodesPath(roomAll)); c != 4 {
		t.Errorf("%d calls, want 4", c)
	}
}
