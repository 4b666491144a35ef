package claim

import (
	"fmt"
	"time"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// A Result is the record a fleet run keeps of each host: the methods below
// are what the rollout runner (claim/rollout) reads of it, so that the
// runner needs to know nothing of claiming and claim nothing of the runner.

// OK reports whether the host ended well (its Status is OK).
func (r Result) OK() bool { return r.Status.OK() }

// Failed reports whether the host failed (it counts toward
// --max-fail-percentage).
func (r Result) Failed() bool { return r.Status == StatusFailed }

// Transient reports whether the host's failure is worth another attempt.
func (r Result) Transient() bool { return Transient(r.Category) }

// Failure is why the attempt failed: "[category]: message".
func (r Result) Failure() string { return fmt.Sprintf("[%s]: %s", r.Category, r.Message) }

// Attempted returns the record marked as the host's n-th attempt, the
// warnings of the earlier attempts before its own.
func (r Result) Attempted(n int, earlier []string) Result {
	r.Attempts = n
	r.Warnings = append(earlier, r.Warnings...)
	return r
}

// Transient reports whether a failure category is worth another attempt:
// the network or Cloud hiccuped, nothing was refused on purpose.
func Transient(category Category) bool {
	switch category {
	case remote.CatConnectRefused, remote.CatConnectionLost, CatCloudError:
		return true
	}
	return false
}

// NotStarted is the record of a host the run never reached.
func NotStarted(h *inventory.Host, why string) Result {
	now := time.Now().UTC()
	return Result{Host: h.Name, Address: h.Address, Groups: h.Groups, Status: StatusNotStarted, Category: CatNotStarted, Message: why, Start: now, End: now}
}
