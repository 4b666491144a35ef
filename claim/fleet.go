package claim

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// FleetOptions control a fleet run.
type FleetOptions struct {
	// Forks is how many hosts are in flight at once (a sliding window).
	Forks int
	// HostTimeout bounds one host's whole run; 0 means no limit.
	HostTimeout time.Duration
	// OnStart is called when a host starts; OnResult once per host when it
	// ends, never concurrently.
	OnStart  func(h *inventory.Host)
	OnResult func(r Result)
}

// RunFleet runs do on every host, Forks at a time, and returns one result
// per host in inventory order. A host that had not started when ctx ended
// is recorded as not-started.
func RunFleet(ctx context.Context, hosts []*inventory.Host, opts FleetOptions, do func(context.Context, *inventory.Host) Result) []Result {
	if opts.Forks <= 0 {
		opts.Forks = 50
	}
	results := make([]Result, len(hosts))
	var mu sync.Mutex
	record := func(i int, r Result) {
		mu.Lock()
		defer mu.Unlock()
		results[i] = r
		if opts.OnResult != nil {
			opts.OnResult(r)
		}
	}
	var g errgroup.Group
	g.SetLimit(opts.Forks)
	for i, h := range hosts {
		if ctx.Err() != nil {
			record(i, NotStarted(h, "the run was stopped before this host started"))
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				record(i, NotStarted(h, "the run was stopped before this host started"))
				return nil
			}
			if opts.OnStart != nil {
				opts.OnStart(h)
			}
			hctx := ctx
			if opts.HostTimeout > 0 {
				var cancel context.CancelFunc
				hctx, cancel = context.WithTimeout(ctx, opts.HostTimeout)
				defer cancel()
			}
			record(i, do(hctx, h))
			return nil
		})
	}
	g.Wait()
	return results
}

// NotStarted is the record of a host the run never reached.
func NotStarted(h *inventory.Host, why string) Result {
	now := time.Now().UTC()
	return Result{Host: h.Name, Address: h.Address, Groups: h.Groups, Status: StatusNotStarted, Category: "not-started", Message: why, Start: now, End: now}
}
