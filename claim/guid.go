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

// guidRegistry remembers, for one run, the first host seen with each machine
// GUID, so that clones sharing one are found. With a sliding window the first
// host of a GUID may be claimed before a later clone is probed: the clone is
// then reported and names it.
type guidRegistry struct {
	mu    sync.Mutex
	first map[string]string
}

func newGUIDRegistry() *guidRegistry { return &guidRegistry{first: map[string]string{}} }

// register records that host has guid and returns the host seen first with
// it ("" when host is the first).
func (g *guidRegistry) register(guid, host string) string {
	if guid == "" {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if h, ok := g.first[guid]; ok && h != host {
		return h
	}
	g.first[guid] = host
	return ""
}
