package inventory

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestResolveRoomNames(t *testing.T) {
	rooms := []CloudRoom{
		{ID: "11111111-1111-4111-8111-111111111111", Name: "All nodes"},
		{ID: "22222222-2222-4222-8222-222222222222", Name: "production"},
		{ID: "33333333-3333-4333-8333-333333333333", Name: "web servers"},
		{ID: "44444444-4444-4444-8444-444444444444", Name: "edge"},
		{ID: "55555555-5555-4555-8555-555555555555", Name: "edge"},
		{ID: "66666666-6666-4666-8666-666666666666", Name: "databases"},
	}
	const id = "0b9d4c8e-4f0a-4bd5-9a1c-6b0e1f7a2c11"
	cases := []struct {
		name      string
		inv       string
		wantRooms map[string][]string // host → rooms after resolution
		wantErrs  []string            // fragments, each in some diagnostic
		wantCalls int
	}{
		{
			name:      "names and ids",
			inv:       "groups:\n  web:\n    rooms: [production, \"web servers\", " + id + "]\n    hosts: {w1: {}, w2: {}}\n",
			wantRooms: map[string][]string{"w1": {"22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333", id}},
			wantCalls: 2,
		},
		{
			name:      "ids only need no API",
			inv:       "groups:\n  web:\n    rooms: [" + id + "]\n    hosts: {w1: {}}\n",
			wantRooms: map[string][]string{"w1": {id}},
		},
		{
			name: "unknown name lists the rooms closest first",
			inv:  "groups:\n  web:\n    rooms: [prodution]\n    hosts: {w1: {}}\n",
			wantErrs: []string{`inv.yml:3:13: groups.web.rooms: no room named "prodution" in Space "lab"; its rooms, closest first: "production", "edge", `,
				`"web servers"`},
			wantCalls: 1,
		},
		{
			name:      "two rooms with the same name",
			inv:       "defaults:\n  rooms: [edge]\nhosts: {h1: {}}\n",
			wantErrs:  []string{`inv.yml:2:11: defaults.rooms: 2 rooms of Space "lab" are named "edge" (ids 44444444-4444-4444-8444-444444444444, 55555555-5555-4555-8555-555555555555): write the id`},
			wantCalls: 1,
		},
		{
			name:      "case matters",
			inv:       "defaults:\n  rooms: [Production]\nhosts: {h1: {}}\n",
			wantErrs:  []string{`no room named "Production"`, `closest first: "production"`},
			wantCalls: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := loadString(t, "inv.yml", tc.inv, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			err = inv.ResolveRoomNames(inv.Hosts, func(h *Host) (string, []CloudRoom, error) {
				calls++
				return `"lab"`, rooms, nil
			})
			if calls != tc.wantCalls {
				t.Errorf("lister called %d times, want %d", calls, tc.wantCalls)
			}
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range inv.Hosts {
					if want, ok := tc.wantRooms[h.Name]; ok && !slices.Equal(h.Claim.Rooms, want) {
						t.Errorf("%s: rooms %v, want %v", h.Name, h.Claim.Rooms, want)
					}
				}
				return
			}
			errs := diagnostics(t, err)
			text := errs.Error()
			for _, w := range tc.wantErrs {
				if !strings.Contains(text, w) {
					t.Errorf("missing %q in:\n%s", w, text)
				}
			}
			for _, h := range inv.Hosts {
				if NeedsRoomNames([]*Host{h}) == false {
					t.Errorf("%s: rooms changed although resolution failed: %v", h.Name, h.Claim.Rooms)
				}
			}
		})
	}
}

func TestResolveRoomNamesListerError(t *testing.T) {
	inv, err := loadString(t, "inv.yml", "defaults:\n  rooms: [production]\nhosts: {h1: {}}\n", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("API token lacks scope")
	err = inv.ResolveRoomNames(inv.Hosts, func(*Host) (string, []CloudRoom, error) { return "", nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	var errs Errors
	if errors.As(err, &errs) {
		t.Fatalf("an API failure is not an inventory error: %v", err)
	}
}
