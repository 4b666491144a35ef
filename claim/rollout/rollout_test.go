package rollout

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

func hostsN(n int) []*inventory.Host {
	out := make([]*inventory.Host, n)
	for i := range out {
		out[i] = &inventory.Host{Name: fmt.Sprintf("h%03d", i)}
	}
	return out
}

func TestBatches(t *testing.T) {
	cases := []struct {
		serial string
		total  int
		want   []int
	}{
		{"", 7, []int{7}},
		{"1", 3, []int{1, 1, 1}},
		{"1,10%,100%", 200, []int{1, 20, 179}},
		{"2,50%", 10, []int{2, 5, 3}},
		{"30%", 10, []int{3, 3, 3, 1}},
		{"5", 0, nil},
	}
	for _, c := range cases {
		sizes, err := ParseSerial(c.serial)
		if err != nil {
			t.Fatal(err)
		}
		if got := Batches(sizes, c.total); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Batches(%q, %d) = %v, want %v", c.serial, c.total, got, c.want)
		}
	}
	for _, bad := range []string{"0", "-1", "x", "0%", "101%", "1,,2"} {
		if _, err := ParseSerial(bad); err == nil {
			t.Errorf("ParseSerial(%q) accepted", bad)
		}
	}
}

func ok(h *inventory.Host) claim.Result {
	return claim.Result{Host: h.Name, Status: claim.StatusClaimed}
}

func TestFleetEveryHostRecordedInOrder(t *testing.T) {
	hosts := hostsN(40)
	var inFlight, peak atomic.Int32
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 5, MaxFailPercent: -1}
	out := f.Run(context.Background(), context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return ok(h)
	})
	if len(out.Results) != 40 {
		t.Fatalf("%d results", len(out.Results))
	}
	for i, r := range out.Results {
		if r.Host != hosts[i].Name || r.Status != claim.StatusClaimed || r.Attempts != 1 {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if peak.Load() > 5 {
		t.Fatalf("%d hosts in flight, more than --forks 5", peak.Load())
	}
}

func TestFleetCanaryFailureStopsLaterBatches(t *testing.T) {
	hosts := hostsN(10)
	var started sync.Map
	sizes, _ := ParseSerial("1,100%")
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 4, Serial: sizes, MaxFailPercent: 0}
	out := f.Run(context.Background(), context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result {
		started.Store(h.Name, true)
		return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatTokenRejected}
	})
	if !out.StoppedByMaxFail {
		t.Fatal("a failed canary did not stop the run")
	}
	n := 0
	started.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d hosts started, want only the canary", n)
	}
	for _, r := range out.Results[1:] {
		if r.Status != claim.StatusNotStarted || r.Message == "" {
			t.Fatalf("later host: %+v", r)
		}
	}
}

func TestFleetMaxFailPercentage(t *testing.T) {
	hosts := hostsN(20)
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 1, MaxFailPercent: 25}
	out := f.Run(context.Background(), context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result {
		if h.Name == "h001" || h.Name == "h002" {
			return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatRoomInvalid}
		}
		return ok(h)
	})
	// h000 ok, h001 fails (50% > 25%): the run stops there.
	if !out.StoppedByMaxFail {
		t.Fatal("threshold not applied")
	}
	counts := map[claim.Status]int{}
	for _, r := range out.Results {
		counts[r.Status]++
	}
	if counts[claim.StatusClaimed] != 1 || counts[claim.StatusFailed] != 1 || counts[claim.StatusNotStarted] != 18 {
		t.Fatalf("counts %v", counts)
	}
}

func TestFleetRetriesTransientOnly(t *testing.T) {
	var calls sync.Map
	do := func(_ context.Context, h *inventory.Host) claim.Result {
		v, _ := calls.LoadOrStore(h.Name, new(atomic.Int32))
		n := v.(*atomic.Int32).Add(1)
		switch h.Name {
		case "h000": // flaky: refused twice, then fine
			if n <= 2 {
				return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: remote.CatConnectRefused}
			}
			return ok(h)
		case "h001": // a rejected token is never retried
			return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatTokenRejected}
		}
		return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatCloudError}
	}
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 3, Retries: 2, Backoff: time.Millisecond, MaxFailPercent: -1}
	out := f.Run(context.Background(), context.Background(), hostsN(3), do)
	if r := out.Results[0]; r.Status != claim.StatusClaimed || r.Attempts != 3 || len(r.Warnings) != 2 {
		t.Errorf("flaky host: %+v", r)
	}
	if r := out.Results[1]; r.Attempts != 1 {
		t.Errorf("token-rejected host retried: %+v", r)
	}
	if r := out.Results[2]; r.Status != claim.StatusFailed || r.Attempts != 3 {
		t.Errorf("cloud-error host: %+v", r)
	}
}

func TestFleetStopStartingOnInterrupt(t *testing.T) {
	startCtx, stop := context.WithCancel(context.Background())
	hosts := hostsN(30)
	var once sync.Once
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 2, MaxFailPercent: -1}
	out := f.Run(startCtx, context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result {
		once.Do(stop)
		time.Sleep(time.Millisecond)
		return ok(h)
	})
	if !out.Interrupted {
		t.Fatal("not marked interrupted")
	}
	counts := map[claim.Status]int{}
	for i, r := range out.Results {
		if r.Host != hosts[i].Name {
			t.Fatalf("host %d has no record: %+v", i, r)
		}
		counts[r.Status]++
	}
	if counts[claim.StatusNotStarted] == 0 || counts[claim.StatusClaimed] == 0 || counts[claim.StatusNotStarted]+counts[claim.StatusClaimed] != 30 {
		t.Fatalf("counts %v", counts)
	}
}

// TestFleetHostTimeoutCancelsHost: HostTimeout ends a host's context while
// the run's goes on. The host waits for its own context or the test's
// deadline, whichever comes first, so a HostTimeout that is not applied
// fails at once instead of hanging the test.
func TestFleetHostTimeoutCancelsHost(t *testing.T) {
	runCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var hostErr, runErr error
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 1, HostTimeout: 20 * time.Millisecond, MaxFailPercent: -1}
	out := f.Run(context.Background(), runCtx, hostsN(1), func(ctx context.Context, h *inventory.Host) claim.Result {
		<-ctx.Done()
		hostErr, runErr = ctx.Err(), runCtx.Err()
		return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatTimeout}
	})
	if runErr != nil || hostErr != context.DeadlineExceeded {
		t.Fatalf("the host's context ended with %v and the run's with %v: HostTimeout did not end the host (want deadline exceeded, run still going)", hostErr, runErr)
	}
	if r := out.Results[0]; r.Status != claim.StatusFailed || r.Attempts != 1 {
		t.Fatalf("%+v", r)
	}
}

// TestFleetMaxFailPercentageBoundary: the run stops once strictly more than
// the percentage of the finished hosts failed; exactly the percentage goes
// on. One fork, so hosts finish in order.
func TestFleetMaxFailPercentageBoundary(t *testing.T) {
	cases := []struct {
		name    string
		hosts   int
		pct     float64
		fail    []int // positions of the failing hosts
		started int
		stopped bool
	}{
		{"1 in 4 at 25% goes on", 4, 25, []int{3}, 4, false},
		{"1 in 4 then 2 in 8 at 25% goes on", 8, 25, []int{3, 7}, 8, false},
		{"2 in 5 at 25% stops", 8, 25, []int{3, 4}, 5, true},
		{"1 in 2 and 2 in 4 at 50% go on, 3 in 5 stops", 6, 50, []int{1, 3, 4}, 5, true},
		{"every host failing at 100% goes on", 3, 100, []int{0, 1, 2}, 3, false},
		{"0%: the first failure stops", 4, 0, []int{1}, 2, true},
		{"0% with no failure goes on", 3, 0, nil, 3, false},
		{"negative disables it", 3, -1, []int{0, 1, 2}, 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hosts := hostsN(c.hosts)
			failing := map[string]bool{}
			for _, i := range c.fail {
				failing[hosts[i].Name] = true
			}
			f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 1, MaxFailPercent: c.pct}
			out := f.Run(context.Background(), context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result {
				if failing[h.Name] {
					return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatRoomInvalid}
				}
				return ok(h)
			})
			started := 0
			for i, r := range out.Results {
				if r.Status != claim.StatusNotStarted {
					started++
					continue
				}
				if i < c.started || !strings.Contains(r.Message, "--max-fail-percentage") {
					t.Errorf("host %d not started: %q", i, r.Message)
				}
			}
			if started != c.started || out.StoppedByMaxFail != c.stopped {
				t.Fatalf("%d of %d hosts started, stopped by max-fail %v; want %d, %v", started, c.hosts, out.StoppedByMaxFail, c.started, c.stopped)
			}
		})
	}
}

// After runs outside the window: with one fork, three hosts are in After at
// once (each waits for the others), and each result carries what After did.
func TestFleetAfterRunsOutsideTheWindow(t *testing.T) {
	hosts := hostsN(3)
	var mu sync.Mutex
	inAfter, peak := 0, 0
	all := make(chan struct{})
	var recorded []string
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 1, MaxFailPercent: -1, HostTimeout: time.Minute,
		After: func(ctx context.Context, h *inventory.Host, r *claim.Result) {
			mu.Lock()
			inAfter++
			peak = max(peak, inAfter)
			if inAfter == len(hosts) {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
				r.Message = "after " + h.Name
			case <-ctx.Done():
				r.Message = "after gave up"
			}
		},
		OnResult: func(_ int, r claim.Result) { recorded = append(recorded, r.Message) },
	}
	out := f.Run(context.Background(), context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result { return ok(h) })
	if peak != len(hosts) {
		t.Fatalf("at most %d hosts were in After at once with 1 fork, want %d (After held the window)", peak, len(hosts))
	}
	for i, r := range out.Results {
		if r.Host != hosts[i].Name || r.Message != "after "+hosts[i].Name {
			t.Errorf("result %d = %s %q", i, r.Host, r.Message)
		}
	}
	if len(recorded) != len(hosts) {
		t.Errorf("OnResult called %d times, want %d", len(recorded), len(hosts))
	}
}

// With Discard the run keeps no records: each reaches OnResult once with its
// host's position, and the counts match what a run that keeps them says.
func TestFleetDiscardKeepsNoResults(t *testing.T) {
	do := func(_ context.Context, h *inventory.Host) claim.Result {
		var n int
		fmt.Sscanf(h.Name, "h%d", &n)
		switch n % 4 {
		case 1:
			return claim.Result{Host: h.Name, Status: claim.StatusFailed, Category: claim.CatTokenRejected}
		case 2:
			return claim.Result{Host: h.Name, Status: claim.StatusAlreadyClaimed}
		}
		return ok(h)
	}
	cases := []struct {
		name   string
		hosts  int
		serial string
	}{
		{"one batch", 37, ""},
		{"rolling", 25, "1,10%,50%"},
		{"no hosts", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hosts := hostsN(c.hosts)
			sizes, _ := ParseSerial(c.serial)
			kept := (&Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 3, Serial: sizes, MaxFailPercent: -1}).Run(context.Background(), context.Background(), hosts, do)
			seen := make([]int, len(hosts))
			f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 3, Serial: sizes, MaxFailPercent: -1, Discard: true,
				OnResult: func(i int, r claim.Result) {
					seen[i]++
					if r.Host != hosts[i].Name {
						t.Errorf("OnResult(%d) got host %s, want %s", i, r.Host, hosts[i].Name)
					}
				}}
			out := f.Run(context.Background(), context.Background(), hosts, do)
			if out.Results != nil {
				t.Fatalf("Discard kept %d results", len(out.Results))
			}
			for i, n := range seen {
				if n != 1 {
					t.Errorf("host %d seen %d times by OnResult", i, n)
				}
			}
			notOK := 0
			for _, r := range kept.Results {
				if !r.Status.OK() {
					notOK++
				}
			}
			if out.Hosts != len(hosts) || kept.Hosts != len(hosts) || out.NotOK != notOK || kept.NotOK != notOK {
				t.Fatalf("counts: discard %d/%d, kept %d/%d, want %d hosts, %d not OK", out.Hosts, out.NotOK, kept.Hosts, kept.NotOK, len(hosts), notOK)
			}
		})
	}
}

// TestFleetDrainedPerBatch: Drained is called once per batch, when every
// host of the batch has left the window and while their After calls may
// still wait; the next batch starts only after those end.
func TestFleetDrainedPerBatch(t *testing.T) {
	hosts := hostsN(5)
	var mu sync.Mutex
	var events []string
	var done atomic.Int32
	release := make(chan struct{}, len(hosts))
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 2, MaxFailPercent: -1, Serial: []BatchSize{{N: 3}},
		After: func(ctx context.Context, h *inventory.Host, r *claim.Result) {
			<-release // held until the batch is drained
			mu.Lock()
			events = append(events, "after "+h.Name)
			mu.Unlock()
		},
		Drained: func() {
			mu.Lock()
			events = append(events, fmt.Sprintf("drained after %d hosts", done.Load()))
			mu.Unlock()
			for range 3 {
				release <- struct{}{}
			}
		},
	}
	f.Run(context.Background(), context.Background(), hosts, func(_ context.Context, h *inventory.Host) claim.Result {
		done.Add(1)
		return ok(h)
	})
	var drained []string
	for _, e := range events {
		if len(e) > 7 && e[:7] == "drained" {
			drained = append(drained, e)
		}
	}
	if want := []string{"drained after 3 hosts", "drained after 5 hosts"}; !reflect.DeepEqual(drained, want) {
		t.Fatalf("events %v, want drained %v", events, want)
	}
	if events[0] != "drained after 3 hosts" || events[4] != "drained after 5 hosts" {
		t.Errorf("After ran before its batch was drained: %v", events)
	}
}

// BenchmarkFleetNoop is the Fleet engine's own cost per host (window,
// retries bookkeeping, results, callbacks) with a host that does nothing.
func BenchmarkFleetNoop(b *testing.B) {
	hosts := hostsN(1000)
	f := Fleet[claim.Result]{NotStarted: claim.NotStarted, Forks: 50, MaxFailPercent: -1, OnResult: func(int, claim.Result) {}}
	do := func(_ context.Context, h *inventory.Host) claim.Result {
		return claim.Result{Host: h.Name, Status: claim.StatusClaimed}
	}
	b.ReportAllocs()
	for b.Loop() {
		out := f.Run(context.Background(), context.Background(), hosts, do)
		if len(out.Results) != len(hosts) {
			b.Fatal("missing results")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(hosts)), "ns/host")
}

// FuzzParseSerial: --serial is parsed into batch sizes or refused.
func FuzzParseSerial(f *testing.F) {
	for _, s := range []string{"1,10%,100%", "", "0", "-1", "101%", "1,,2", "9999999999999999999", "NaN%", "inf%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sizes, err := ParseSerial(s)
		if err != nil {
			return
		}
		for _, b := range sizes {
			if b.N < 0 || b.N == 0 && !(b.Percent > 0 && b.Percent <= 100) {
				t.Fatalf("%q gave batch %+v", s, b)
			}
		}
	})
}
