// Package rollout runs one function over many hosts: a sliding window of
// hosts in flight, rolling batches (--serial), a failure threshold
// (--max-fail-percentage), retries of transient failures with backoff, a
// random splay and a per-host deadline, and a record for every host
// whatever happens. It knows nothing of what the function does: the
// record type says how a host ended (see Record).
package rollout

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// Defaults of a Fleet's settings, each read through its accessor.
const (
	// DefaultForks is how many hosts are in flight when Fleet.Forks is 0.
	DefaultForks = 50
	// DefaultBackoff is the first pause before a retry when Fleet.Backoff
	// is 0.
	DefaultBackoff = 2 * time.Second
)

// Record is what the runner reads of one host's record R, and how it marks
// the attempts a host took.
type Record[R any] interface {
	// OK reports whether the host ended well; Outcome.NotOK counts the
	// others.
	OK() bool
	// Failed reports whether the host counts as failed for MaxFailPercent.
	Failed() bool
	// Transient reports whether the failure is worth another attempt.
	Transient() bool
	// Failure says why an attempt failed, in the warning the next attempt's
	// record carries: "attempt N failed " + Failure().
	Failure() string
	// Attempted returns the record marked as the host's n-th attempt, with
	// the warnings of the earlier attempts before its own.
	Attempted(n int, earlier []string) R
}

// Fleet runs one per-host function over many hosts: a sliding window of
// Forks hosts in flight, optional rolling batches, a failure threshold,
// retries of transient failures, and a record R for every host whatever
// happens.
type Fleet[R Record[R]] struct {
	// Forks is how many hosts are in flight at once; 0 means DefaultForks.
	Forks int
	// Splay delays each host's start by a random time up to Splay.
	Splay time.Duration
	// HostTimeout bounds one host's whole run (all attempts); 0: no limit.
	HostTimeout time.Duration
	// Serial is the rolling rollout: batch sizes, the last one repeating.
	// Empty means one batch of every host.
	Serial []BatchSize
	// MaxFailPercent stops starting hosts once more than this percentage
	// of the finished hosts failed; negative disables it.
	MaxFailPercent float64
	// Retries is how many more attempts a host gets after a transient
	// failure; Backoff is the first pause, doubled each time (0 means
	// DefaultBackoff).
	Retries int
	Backoff time.Duration
	// OnStart is called when a host starts; OnResult once per host when it
	// ends, never concurrently, with the host's position in the hosts given
	// to Run.
	OnStart  func(h *inventory.Host)
	OnResult func(i int, r R)
	// NotStarted is the record of a host the run never reached, with the
	// reason (required).
	NotStarted func(h *inventory.Host, why string) R
	// Discard keeps no results: Outcome.Results stays nil and OnResult is
	// where each record is seen, once. A caller that spools the records
	// there keeps the run's memory flat in the number of hosts (kept, each
	// record is ~1.5 KB until the run ends).
	Discard bool
	// After, when set, runs once per host after its last attempt, outside
	// the window of Forks, and the host's result is recorded when it
	// returns. It is for work that only waits, such as the Cloud-side proof
	// (waiting for a room listing every host shares): inside the window, it
	// held a slot another host's SSH work could use (1,000 lab hosts: the
	// wait was a third of each slot). Its context is the run's, bounded by
	// HostTimeout. A batch of --serial ends when every After of it returned.
	After func(ctx context.Context, h *inventory.Host, r *R)
	// Drained, when set, is called when every host of a batch has left the
	// window: no more After calls will start for the batch, while those
	// already started may still run (the Cloud-side proof then stops
	// waiting for more hosts to batch their questions with).
	Drained func()
}

func (f *Fleet[R]) forks() int {
	if f.Forks > 0 {
		return f.Forks
	}
	return DefaultForks
}

func (f *Fleet[R]) backoff() time.Duration {
	if f.Backoff > 0 {
		return f.Backoff
	}
	return DefaultBackoff
}

// BatchSize is one entry of --serial: a count or a percentage of the hosts.
type BatchSize struct {
	N       int
	Percent float64
}

// ParseSerial parses "1,10%,100%".
func ParseSerial(s string) ([]BatchSize, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []BatchSize
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if p, ok := strings.CutSuffix(part, "%"); ok {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil || !(v > 0 && v <= 100) { // NaN fails too
				return nil, fmt.Errorf("--serial: %q is not a percentage in (0, 100]", part)
			}
			out = append(out, BatchSize{Percent: v})
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--serial: %q is not a positive number or percentage", part)
		}
		out = append(out, BatchSize{N: n})
	}
	return out, nil
}

// Batches splits total hosts into batch lengths: each size in turn, the last
// repeating; a percentage is of total, rounded up, at least one.
func Batches(sizes []BatchSize, total int) []int {
	if total == 0 {
		return nil
	}
	if len(sizes) == 0 {
		return []int{total}
	}
	var out []int
	left := total
	for i := 0; left > 0; i++ {
		s := sizes[min(i, len(sizes)-1)]
		n := s.N
		if s.Percent > 0 {
			n = int(math.Ceil(s.Percent * float64(total) / 100))
		}
		n = max(1, min(n, left))
		out = append(out, n)
		left -= n
	}
	return out
}

// Outcome tells how a fleet run ended.
type Outcome[R any] struct {
	// Results is one record per host, in the order of the hosts given to
	// Run; nil with Fleet.Discard.
	Results []R
	// Hosts is how many hosts got a record (all of them); NotOK how many
	// of those did not end well (Record.OK is false).
	Hosts, NotOK int
	// StoppedByMaxFail is set when the failure threshold (or a failed
	// canary) stopped the run.
	StoppedByMaxFail bool
	// Interrupted is set when startCtx ended before every host started.
	Interrupted bool
}

// Source gives the hosts of a run: how many, and the i-th, which the run
// asks for when it reaches it (to start it, or to record it as not
// started) and lets go of once the host is recorded. A source that
// resolves each host when asked keeps only the hosts in flight resolved.
type Source interface {
	Len() int
	Host(i int) *inventory.Host
}

// hostList is a Source of hosts already resolved.
type hostList []*inventory.Host

func (l hostList) Len() int                   { return len(l) }
func (l hostList) Host(i int) *inventory.Host { return l[i] }

// Run runs do on every host and returns one result per host, in inventory
// order. startCtx ending stops new hosts from starting; runCtx ending also
// cancels the hosts in flight. Hosts that never started are recorded as
// not-started with the reason.
func (f *Fleet[R]) Run(startCtx, runCtx context.Context, hosts []*inventory.Host, do func(context.Context, *inventory.Host) R) Outcome[R] {
	return f.RunSource(startCtx, runCtx, hostList(hosts), do)
}

// RunSource is Run over the hosts of src, each asked for when the run
// reaches it.
func (f *Fleet[R]) RunSource(startCtx, runCtx context.Context, src Source, do func(context.Context, *inventory.Host) R) Outcome[R] {
	forks := f.forks()
	total := src.Len()
	t := &runTally[R]{f: f}
	if !f.Discard {
		t.results = make([]R, total)
	}
	record := t.record
	stopReason := func() string { return t.stopReason(startCtx, runCtx) }

	var after sync.WaitGroup
	finish := func(i int, h *inventory.Host, r R) {
		if f.After == nil {
			record(i, r)
			return
		}
		after.Go(func() {
			ctx := runCtx
			if f.HostTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, f.HostTimeout)
				defer cancel()
			}
			f.After(ctx, h, &r)
			record(i, r)
		})
	}
	next := 0
	for _, n := range Batches(f.Serial, total) {
		var g errgroup.Group
		g.SetLimit(forks)
		for i := next; i < next+n; i++ {
			h := src.Host(i)
			if why := stopReason(); why != "" {
				record(i, f.NotStarted(h, why))
				continue
			}
			g.Go(func() error {
				if why := stopReason(); why != "" {
					record(i, f.NotStarted(h, why))
					return nil
				}
				if f.Splay > 0 && !sleepCtx(startCtx, rand.N(f.Splay)) {
					record(i, f.NotStarted(h, stopReason()))
					return nil
				}
				if f.OnStart != nil {
					f.OnStart(h)
				}
				finish(i, h, f.runHost(runCtx, h, do))
				return nil
			})
		}
		g.Wait()
		if f.Drained != nil {
			f.Drained()
		}
		after.Wait()
		next += n
	}
	return t.outcome(startCtx, runCtx)
}

// runTally is a run's records as they come, from any goroutine: the
// results kept, the counts, and whether the failure threshold was crossed.
type runTally[R Record[R]] struct {
	f                       *Fleet[R]
	mu                      sync.Mutex
	results                 []R
	finished, failed, notOK int
	maxFail                 bool
}

// record is host i's record r, once; OnResult sees it here, never
// concurrently.
func (t *runTally[R]) record(i int, r R) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.results != nil {
		t.results[i] = r
	}
	t.finished++
	if !r.OK() {
		t.notOK++
	}
	if r.Failed() {
		t.failed++
		if t.f.MaxFailPercent >= 0 && float64(t.failed)*100 > t.f.MaxFailPercent*float64(t.finished) {
			t.maxFail = true
		}
	}
	if t.f.OnResult != nil {
		t.f.OnResult(i, r)
	}
}

// stopReason is why no more hosts start, "" while they may.
func (t *runTally[R]) stopReason(startCtx, runCtx context.Context) string {
	t.mu.Lock()
	mf := t.maxFail
	t.mu.Unlock()
	switch {
	case mf:
		return fmt.Sprintf("not started: more than %g%% of the hosts failed (--max-fail-percentage)", t.f.MaxFailPercent)
	case runCtx.Err() == context.DeadlineExceeded || startCtx.Err() == context.DeadlineExceeded:
		return "not started: the run's deadline was reached"
	case startCtx.Err() != nil || runCtx.Err() != nil:
		return "not started: the run was interrupted"
	}
	return ""
}

func (t *runTally[R]) outcome(startCtx, runCtx context.Context) Outcome[R] {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Outcome[R]{Results: t.results, Hosts: t.finished, NotOK: t.notOK, StoppedByMaxFail: t.maxFail,
		Interrupted: startCtx.Err() != nil || runCtx.Err() != nil}
}

// runHost runs one host, retrying transient failures with backoff.
func (f *Fleet[R]) runHost(ctx context.Context, h *inventory.Host, do func(context.Context, *inventory.Host) R) R {
	if f.HostTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.HostTimeout)
		defer cancel()
	}
	backoff := f.backoff()
	var warnings []string
	for attempt := 1; ; attempt++ {
		res := do(ctx, h)
		if res.OK() || attempt > f.Retries || !res.Transient() || ctx.Err() != nil {
			return res.Attempted(attempt, warnings)
		}
		warnings = append(warnings, fmt.Sprintf("attempt %d failed %s", attempt, res.Failure()))
		pause := backoff << (attempt - 1)
		pause += rand.N(pause/4 + 1)
		if !sleepCtx(ctx, pause) {
			return res.Attempted(attempt, warnings)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
