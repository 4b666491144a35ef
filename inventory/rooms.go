package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// RoomRef is a room an inventory gives by name, and where it is written.
type RoomRef struct {
	Name string
	File string
	Line int
	Col  int
	// Key is the setting's full key ("groups.web.rooms").
	Key string
}

// CloudRoom is one room of a Space, as Netdata Cloud lists it.
type CloudRoom struct {
	ID   string
	Name string
}

// IsRoomID reports whether a rooms entry is a room id (a UUID); anything
// else is a room name.
func IsRoomID(s string) bool { return isUUID(s) }

// IsUUID reports whether s is a UUID (8-4-4-4-12 hexadecimal digits).
func IsUUID(s string) bool { return isUUID(s) }

// NeedsRoomNames reports whether any of hosts gives a room by name.
func NeedsRoomNames(hosts []*Host) bool {
	for _, h := range hosts {
		for _, r := range h.Claim.Rooms {
			if !isUUID(r) {
				return true
			}
		}
	}
	return false
}

// RoomLister returns the rooms of a host's Space, and a label naming that
// Space in messages. Callers ask Cloud once per Space and cache the answer.
type RoomLister func(h *Host) (space string, rooms []CloudRoom, err error)

// ResolveRoomNames replaces every room name of hosts by its room id, before
// any host is contacted. A name that no room of the Space has, or that two
// rooms share, is an inventory error at the place the name is written: the
// first lists the rooms that exist, closest first; the second asks for the
// id. Room ids are kept as they are and need no lister. An error of the
// lister itself (the Cloud API) is returned as it is.
func (inv *Inventory) ResolveRoomNames(hosts []*Host, list RoomLister) error {
	var errs Errors
	seen := map[string]bool{}
	report := func(h *Host, name, msg string) {
		refs := inv.refsOf(name)
		if len(refs) == 0 {
			refs = []RoomRef{{Name: name, File: inv.Path, Key: "rooms"}}
		}
		for _, r := range refs {
			d := Diagnostic{File: r.File, Line: r.Line, Col: r.Col, Key: r.Key, Msg: msg}
			id := d.String()
			if !seen[id] {
				seen[id] = true
				errs = append(errs, d)
			}
		}
	}
	for _, h := range hosts {
		if !slices.ContainsFunc(h.Claim.Rooms, func(r string) bool { return !isUUID(r) }) {
			continue
		}
		space, rooms, err := list(h)
		if err != nil {
			return fmt.Errorf("host %s: room names: %w", h.Name, err)
		}
		out := make([]string, 0, len(h.Claim.Rooms))
		ok := true
		for _, r := range h.Claim.Rooms {
			if isUUID(r) {
				out = append(out, r)
				continue
			}
			id, msg := matchRoom(r, space, rooms)
			if msg != "" {
				report(h, r, msg)
				ok = false
				continue
			}
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		if ok {
			h.Claim.Rooms = out
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// refsOf returns the places a room name is written.
func (inv *Inventory) refsOf(name string) []RoomRef {
	var out []RoomRef
	for _, r := range inv.roomRefs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// matchRoom finds the one room called name; msg explains why there is none.
func matchRoom(name, space string, rooms []CloudRoom) (id, msg string) {
	var ids []string
	for _, r := range rooms {
		if r.Name == name {
			ids = append(ids, strings.ToLower(r.ID))
		}
	}
	switch len(ids) {
	case 1:
		if !isUUID(ids[0]) {
			return "", fmt.Sprintf("Space %s gives room %q the id %q, which is not a UUID: not used", space, truncate(name, 80), truncate(ids[0], 60))
		}
		return ids[0], ""
	case 0:
		return "", fmt.Sprintf("no room named %q in Space %s; its rooms, closest first: %s",
			truncate(name, 80), space, closestRooms(name, rooms, 10))
	}
	return "", fmt.Sprintf("%d rooms of Space %s are named %q (ids %s): write the id of the one you mean",
		len(ids), space, truncate(name, 80), strings.Join(ids, ", "))
}

// closestRooms lists room names by edit distance to name (case-insensitive),
// then alphabetically, at most max of them.
func closestRooms(name string, rooms []CloudRoom, max int) string {
	if len(rooms) == 0 {
		return "(none)"
	}
	type cand struct {
		name string
		d    int
	}
	ln := strings.ToLower(name)
	var cs []cand
	have := map[string]bool{}
	for _, r := range rooms {
		if have[r.Name] {
			continue
		}
		have[r.Name] = true
		cs = append(cs, cand{r.Name, editDistance(ln, strings.ToLower(r.Name))})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var b strings.Builder
	for i, c := range cs {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(cs)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c.name))
	}
	return b.String()
}
