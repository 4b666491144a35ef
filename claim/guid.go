package claim

import (
	"crypto/rand"
	"fmt"
	"sync"
)

// newUUID returns a random (version 4) UUID: a new node id for a v1 agent
// claimed with a new identity.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// GUIDHistory is what earlier runs knew of machine GUIDs: fleetclaim's run
// history, or nothing.
type GUIDHistory interface {
	// GUIDOwner returns a host other than host whose latest record in an
	// earlier run has guid, and that run's id; "" when there is none.
	GUIDOwner(guid, host string) (other, run string)
}

// guidRegistry remembers, for one run, the first host seen with each machine
// GUID, so that clones sharing one are found. With a sliding window the first
// host of a GUID may be claimed before a later clone is probed: the clone is
// then reported and names it. Seeded with the history of earlier runs, it
// also finds a clone of a host that is not in this run.
type guidRegistry struct {
	mu    sync.Mutex
	first map[string]string
	past  GUIDHistory
}

func newGUIDRegistry(past GUIDHistory) *guidRegistry {
	return &guidRegistry{first: map[string]string{}, past: past}
}

// register records that host has guid and returns the host seen first with
// it ("" when host is the first): in this run (run is ""), else in the
// earlier run named.
func (g *guidRegistry) register(guid, host string) (other, run string) {
	if guid == "" {
		return "", ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if h, ok := g.first[guid]; ok && h != host {
		return h, ""
	}
	g.first[guid] = host
	if g.past != nil {
		return g.past.GUIDOwner(guid, host)
	}
	return "", ""
}
