package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
)

const testAPIToken = "api-secret-0123456789abcdef"

// fakeCloud answers the Cloud API from a script of responses per path; the
// last response of a script repeats.
type fakeCloud struct {
	mu      sync.Mutex
	script  map[string][]fakeAnswer
	calls   map[string]int
	bodies  map[string][]string
	authSaw []string
}

type fakeAnswer struct {
	status     int
	body       string
	retryAfter string
	// hold, when set, keeps the answer back until it is closed.
	hold chan struct{}
}

func newFakeCloud(t *testing.T) (*fakeCloud, *httptest.Server) {
	f := &fakeCloud{script: map[string][]fakeAnswer{}, calls: map[string]int{}, bodies: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		key := r.Method + " " + r.URL.Path
		n := f.calls[key]
		f.calls[key]++
		f.bodies[key] = append(f.bodies[key], string(b))
		f.authSaw = append(f.authSaw, r.Header.Get("Authorization"))
		s := f.script[key]
		f.mu.Unlock()
		if len(s) == 0 {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"errorMsgKey":"ErrNotFound"}`)
			return
		}
		a := s[min(n, len(s)-1)]
		if a.hold != nil {
			<-a.hold
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeCloud) set(key string, answers ...fakeAnswer) {
	f.mu.Lock()
	f.script[key] = answers
	f.mu.Unlock()
}

func (f *fakeCloud) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// testAPI returns a client whose pauses are recorded, not waited. The fake
// Cloud is plain http on loopback: the test accepts that risk by name.
func testAPI(t *testing.T, url string, sleeps *[]time.Duration) *API {
	t.Helper()
	var mu sync.Mutex
	api, err := NewAPI(url, inventory.NewSecret(testAPIToken), APIOptions{
		AllowInsecure: true,
		MaxAttempts:   4, Backoff: time.Second, MaxBackoff: 3 * time.Second, MaxRetryAfter: 10 * time.Second, Rate: 1e6,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if sleeps != nil {
				*sleeps = append(*sleeps, d)
			}
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestCloudAPIErrors(t *testing.T) {
	const rooms = "GET /api/v2/spaces/S/rooms"
	okRooms := fakeAnswer{status: 200, body: `[{"id":"r1","name":"production"}]`}
	cases := []struct {
		name       string
		answers    []fakeAnswer
		wantCat    claim.Category // "" = success
		wantMsg    []string
		wantCalls  int
		wantSleeps []time.Duration
	}{
		{name: "ok", answers: []fakeAnswer{okRooms}, wantCalls: 1},
		{name: "401 is a scope error, not retried", answers: []fakeAnswer{{status: 401, body: `{"errorMsgKey":"ErrUnauthorized"}`}},
			wantCat: claim.CatCloudAPIScope, wantMsg: []string{"401 Unauthorized", "API token lacks scope"}, wantCalls: 1},
		{name: "403 is a scope error, not retried", answers: []fakeAnswer{{status: 403, body: `{"errorMsgKey":"ErrForbidden","errorMessage":"no"}`}},
			wantCat: claim.CatCloudAPIScope, wantMsg: []string{"403 Forbidden (ErrForbidden no)", "API token lacks scope"}, wantCalls: 1},
		{name: "429 honors Retry-After", answers: []fakeAnswer{{status: 429, retryAfter: "7"}, {status: 429, retryAfter: "2"}, okRooms},
			wantCalls: 3, wantSleeps: []time.Duration{7 * time.Second, 2 * time.Second}},
		{name: "5xx retried with doubling backoff, then given up", answers: []fakeAnswer{{status: 503, body: `{"errorMsgKey":"ErrServiceUnavailable"}`}},
			wantCat: claim.CatCloudAPI, wantMsg: []string{"gave up after 4 attempts", "503 Service Unavailable"}, wantCalls: 4,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}},
		{name: "500 then ok", answers: []fakeAnswer{{status: 500}, {status: 502}, okRooms}, wantCalls: 3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second}},
		{name: "Retry-After beyond the limit ends the retries", answers: []fakeAnswer{{status: 429, retryAfter: "3600"}},
			wantCat: claim.CatCloudAPI, wantMsg: []string{"asked to retry after 1h0m0s"}, wantCalls: 1},
		{name: "404 not retried", answers: []fakeAnswer{{status: 404, body: `{"errorMsgKey":"ErrSpaceNotFound"}`}},
			wantCat: claim.CatCloudAPI, wantMsg: []string{"404 Not Found (ErrSpaceNotFound)"}, wantCalls: 1},
		{name: "unreadable answer", answers: []fakeAnswer{{status: 200, body: `{"nope":1}`}},
			wantCat: claim.CatCloudAPI, wantMsg: []string{"unexpected answer"}, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFakeCloud(t)
			f.set(rooms, tc.answers...)
			var sleeps []time.Duration
			api := testAPI(t, srv.URL, &sleeps)
			got, err := api.Rooms(context.Background(), "S")
			if c := f.count(rooms); c != tc.wantCalls {
				t.Errorf("%d calls, want %d", c, tc.wantCalls)
			}
			if !slices.Equal(sleeps, tc.wantSleeps) {
				t.Errorf("pauses %v, want %v", sleeps, tc.wantSleeps)
			}
			if tc.wantCat == "" {
				if err != nil || len(got) != 1 || got[0].Name != "production" {
					t.Fatalf("got %v %v", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; got %v", got)
			}
			var e *claim.Error
			if !errors.As(err, &e) || claim.CategoryOf(err) != tc.wantCat {
				t.Errorf("category %q (%T), want %q", claim.CategoryOf(err), err, tc.wantCat)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in %q", w, err.Error())
				}
			}
		})
	}
}

// TestCloudAPIRedaction: the bearer token goes only into the header, and an
// answer that echoes it does not carry it into errors.
func TestCloudAPIRedaction(t *testing.T) {
	f, srv := newFakeCloud(t)
	f.set("GET /api/v2/spaces/S/rooms", fakeAnswer{status: 403, body: `{"errorMsgKey":"ErrForbidden","errorMessage":"token ` + testAPIToken + ` lacks scope"}`})
	f.set("POST /api/v1/spaces/S/token/rotate", fakeAnswer{status: 500, body: "internal: " + testAPIToken})
	api := testAPI(t, srv.URL, nil)
	_, err1 := api.Rooms(context.Background(), "S")
	_, err2 := api.RotateClaimToken(context.Background(), "S")
	for _, err := range []error{err1, err2} {
		if err == nil {
			t.Fatal("no error")
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err), fmt.Sprintf("%+v %#v", api, api)} {
			if strings.Contains(s, testAPIToken) {
				t.Errorf("API token in %q", s)
			}
		}
		if !strings.Contains(err.Error(), "[REDACTED]") {
			t.Errorf("echo not redacted: %q", err.Error())
		}
	}
	b, _ := json.Marshal(api)
	if strings.Contains(string(b), testAPIToken) {
		t.Errorf("API token in JSON %s", b)
	}
	for _, a := range f.authSaw {
		if a != "Bearer "+testAPIToken {
			t.Errorf("Authorization %q", a)
		}
	}
}

func TestCloudAPICalls(t *testing.T) {
	f, srv := newFakeCloud(t)
	f.set("GET /api/v3/spaces", fakeAnswer{status: 200, body: `[{"id":"AAAAAAAA-1111-4111-8111-111111111111","name":"Ops"},{"id":"s2","name":"Dev","slug":"dev"}]`})
	f.set("POST /api/v3/spaces/s2/rooms/r1/nodes", fakeAnswer{status: 200, body: `{"nodes":[{"nd":"N1","nm":"web01","state":"reachable"}]}`},
		// A Cloud that ignores the scope and lists the whole room.
		fakeAnswer{status: 200, body: `{"nodes":[{"nd":"N1","nm":"web01","state":"reachable"},{"nd":"n2","nm":"web02","state":"unreachable"},{"nd":"n3","nm":"db01","state":"reachable"}]}`})
	f.set("POST /api/v1/spaces/s2/rooms/r1/claimed-nodes", fakeAnswer{status: 200, body: `{}`})
	f.set("POST /api/v1/spaces/s2/token/rotate", fakeAnswer{status: 200, body: `{"token":"new-claim-token"}`})
	api := testAPI(t, srv.URL, nil)
	ctx := context.Background()
	for _, tc := range []struct{ want, id, errPart string }{
		{"Dev", "s2", ""}, {"dev", "s2", ""}, {"aaaaaaaa-1111-4111-8111-111111111111", "AAAAAAAA-1111-4111-8111-111111111111", ""},
		{"", "", "sees 2 Spaces"}, {"Prod", "", `no Space "Prod" among the API token's Spaces: "Dev", "Ops"`},
	} {
		sp, err := api.ResolveSpace(ctx, tc.want)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("space %q: %v, want %q", tc.want, err, tc.errPart)
			}
			continue
		}
		if err != nil || sp.ID != tc.id {
			t.Errorf("space %q: %+v %v", tc.want, sp, err)
		}
	}
	nodes, err := api.RoomNodes(ctx, "s2", "r1", nil)
	if err != nil || len(nodes) != 1 || nodes[0].ID != "n1" || nodes[0].State != "reachable" {
		t.Fatalf("nodes %+v %v", nodes, err)
	}
	if b := f.bodies["POST /api/v3/spaces/s2/rooms/r1/nodes"][0]; b != `{"scope":{"nodes":[]}}` {
		t.Errorf("nodes body %s", b)
	}
	// Named nodes go into the scope; what was not asked is dropped.
	nodes, err = api.RoomNodes(ctx, "s2", "r1", []string{"n1", "N3", "n9"})
	if err != nil || len(nodes) != 2 || nodes[0].ID != "n1" || nodes[1].ID != "n3" {
		t.Fatalf("scoped nodes %+v %v", nodes, err)
	}
	if b := f.bodies["POST /api/v3/spaces/s2/rooms/r1/nodes"][1]; b != `{"scope":{"nodes":["n1","N3","n9"]}}` {
		t.Errorf("scoped nodes body %s", b)
	}
	if err := api.AddToRoom(ctx, "s2", "r1", []string{"n1"}); err != nil {
		t.Fatal(err)
	}
	if b := f.bodies["POST /api/v1/spaces/s2/rooms/r1/claimed-nodes"][0]; b != `["n1"]` {
		t.Errorf("claimed-nodes body %s", b)
	}
	tok, err := api.RotateClaimToken(ctx, "s2")
	if err != nil || tok.Reveal() != "new-claim-token" || fmt.Sprint(tok) != "[REDACTED]" {
		t.Fatalf("rotate %v %v", tok, err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"5", 5 * time.Second}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestParseCloudAnswers(t *testing.T) {
	for _, tc := range []struct {
		body  string
		nodes int
		bad   bool
	}{
		{`{"nodes":[]}`, 0, false},
		{`{"nodes":[{"nd":"a","nm":"x","state":"reachable"},{"nd":"b","nm":"y","state":"unseen"}]}`, 2, false},
		{`[{"nd":"a"}]`, 1, false},
		{`{"nodes":[{"nm":"x"}]}`, 0, true},
		{`{}`, 0, true},
		{`<html>`, 0, true},
	} {
		got, err := ParseRoomNodes([]byte(tc.body))
		if (err != nil) != tc.bad || len(got) != tc.nodes {
			t.Errorf("ParseRoomNodes(%s) = %v, %v", tc.body, got, err)
		}
	}
	for _, tc := range []struct {
		body  string
		rooms int
		bad   bool
	}{
		{`[]`, 0, false}, {`[{"id":"r","name":"n"}]`, 1, false}, {`{"data":[{"id":"r","name":"n"}]}`, 1, false},
		{`[{"name":"n"}]`, 0, true}, {`{"x":1}`, 0, true}, {`nope`, 0, true},
	} {
		got, err := ParseRooms([]byte(tc.body))
		if (err != nil) != tc.bad || len(got) != tc.rooms {
			t.Errorf("ParseRooms(%s) = %v, %v", tc.body, got, err)
		}
	}
}

func FuzzParseCloudAnswers(f *testing.F) {
	f.Add([]byte(`{"nodes":[{"nd":"a","nm":"x","state":"reachable"}]}`))
	f.Add([]byte(`[{"id":"r","name":"production","description":"d"}]`))
	f.Add([]byte(`{"data":[{"id":"r","name":"n"}]}`))
	f.Add([]byte(`{"errorMsgKey":"ErrForbidden"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if nodes, err := ParseRoomNodes(b); err == nil {
			for _, n := range nodes {
				if n.ID == "" || n.ID != strings.ToLower(n.ID) {
					t.Fatalf("node id %q", n.ID)
				}
			}
		}
		if rooms, err := ParseRooms(b); err == nil {
			for _, r := range rooms {
				if r.ID == "" {
					t.Fatal("room without id")
				}
			}
		}
	})
}

// TestCloudAPIRefused: nothing listening is an answer, not retried.
func TestCloudAPIRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var sleeps []time.Duration
	api := testAPI(t, url, &sleeps)
	_, err := api.Spaces(context.Background())
	if err == nil || claim.CategoryOf(err) != claim.CatCloudAPI || len(sleeps) != 0 || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("%v (pauses %v)", err, sleeps)
	}
}

// TestCloudAPIRate: Burst requests start at once, the next ones one per
// 1/Rate; an idle client gets its burst back.
func TestCloudAPIRate(t *testing.T) {
	api, err := NewAPI("https://cloud.example", inventory.NewSecret(testAPIToken), APIOptions{Rate: 10, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	var got []time.Duration
	for range 5 {
		got = append(got, api.reserve(now))
	}
	want := []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	// A second later the bucket is full again.
	later := now.Add(time.Second)
	for i := range 3 {
		if d := api.reserve(later); d > 0 {
			t.Errorf("request %d after a pause waits %v", i, d)
		}
	}
	if d := api.reserve(later); d != 100*time.Millisecond {
		t.Errorf("fourth request after a pause waits %v, want 100ms", d)
	}
	// Burst 1 is the plain rate.
	one, _ := NewAPI("https://cloud.example", inventory.NewSecret(testAPIToken), APIOptions{Rate: 10, Burst: 1})
	if a, b := one.reserve(now), one.reserve(now); a != 0 || b != 100*time.Millisecond {
		t.Errorf("burst 1: %v %v", a, b)
	}
}
