package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/fleetclaim/fleetclaim/claim"
)

// pastGUIDs is the run history's memory of machine GUIDs, for the claim
// package's clone check (claim.GUIDHistory): which host had a GUID first,
// among the hosts whose latest record still has it. A host given a new
// identity since no longer holds its old GUID; a record that was itself
// refused as a clone never makes its host an owner.
type pastGUIDs struct {
	owners map[string][]guidOwner // by GUID, first seen first
}

type guidOwner struct {
	host  string
	run   string // the host's latest run with the GUID
	first int    // index of the first run that saw the host with it
}

// loadPastGUIDs reads the history in dir (missing: empty).
func loadPastGUIDs(dir string) (*pastGUIDs, error) {
	runs, err := readRuns(dir)
	if err != nil {
		return nil, err
	}
	type seen struct {
		guid, run string
		first     int // index of the first run with this GUID
	}
	latest := map[string]seen{}
	for i, m := range runs {
		recs, err := readHostRecords(dir, m.ID)
		if err != nil {
			continue // a run file that went away or cannot be read
		}
		for host, r := range recs {
			if r.MachineGUID == "" || r.Category == claim.CatDuplicateGUID {
				continue
			}
			s, ok := latest[host]
			if !ok || s.guid != r.MachineGUID {
				s = seen{guid: r.MachineGUID, first: i}
			}
			s.run = m.ID
			latest[host] = s
		}
	}
	p := &pastGUIDs{owners: map[string][]guidOwner{}}
	for host, s := range latest {
		p.owners[s.guid] = append(p.owners[s.guid], guidOwner{host: host, run: s.run, first: s.first})
	}
	for _, o := range p.owners {
		// First seen first; hosts first seen together by name.
		sort.Slice(o, func(i, j int) bool {
			if o[i].first != o[j].first {
				return o[i].first < o[j].first
			}
			return o[i].host < o[j].host
		})
	}
	return p, nil
}

// GUIDOwner implements claim.GUIDHistory: the host that had guid first,
// unless that is host itself.
func (p *pastGUIDs) GUIDOwner(guid, host string) (string, string) {
	if p == nil {
		return "", ""
	}
	o := p.owners[guid]
	if len(o) == 0 || o[0].host == host {
		return "", ""
	}
	return o[0].host, o[0].run
}

// pastGUIDsOf loads the history's GUIDs for a run; a history that cannot
// be read is a warning, and the run goes on with this run's GUIDs only.
func pastGUIDsOf(dir string, stderr io.Writer) claim.GUIDHistory {
	if dir == "" {
		d, err := defaultHistoryDir()
		if err != nil {
			return nil
		}
		dir = d
	}
	p, err := loadPastGUIDs(dir)
	if err != nil {
		fmt.Fprintf(stderr, "warning: machine GUIDs of earlier runs not read: %v\n", err)
		return nil
	}
	return p
}
