package lab

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// The lab Cloud's node membership rules, as netdata/terraform-provider-netdata
// uses them:
//
//	GET    /api/v3/spaces/{space}/rooms/{room}/node-membership-rules       [rule]
//	POST   /api/v3/spaces/{space}/rooms/{room}/node-membership-rules       body {action,description,clauses} -> rule
//	GET    /api/v3/spaces/{space}/rooms/{room}/node-membership-rules/{id}  rule
//	PUT    /api/v3/spaces/{space}/rooms/{room}/node-membership-rules/{id}  body {action,description,clauses} -> rule
//	DELETE /api/v3/spaces/{space}/rooms/{room}/node-membership-rules/{id}
//
// (internal/client/node_room_member.go, List/Get/Create/Update/
// DeleteNodeMembershipRule; a rule is {id, spaceID, roomID, clauses,
// action, description}, a clause {label, operator, value, negate}:
// internal/client/models.go:91-104). What the rules mean is what the
// provider's schema says (internal/provider/node_room_member.go): action
// INCLUDE or EXCLUDE, "EXCLUDE action always takes precedence against
// INCLUDE" (:103); a room's rules are alternatives, "The logical relation
// between multiple rules is OR" (:95); a rule's clauses all hold, "The
// logical relation between multiple clauses is AND. It should be a least
// one clause" (:116); operators equals, starts_with, ends_with, contains
// (:125); negate negates the clause (:134). The provider's acceptance test
// makes such a rule, INCLUDE role equals parent and not environment equals
// production (internal/provider/node_room_member_test.go:29-44).
//
// A node in a room by its claim or by the claimed-nodes API stays there:
// the rules only add nodes (and an EXCLUDE only cancels an INCLUDE), the
// lab's choice where the provider does not say. A node's labels are its
// agent's netdata.conf [host labels], read when the rules are applied.

type ruleClause struct {
	Label    string `json:"label"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
	Negate   bool   `json:"negate"`
}

type membershipRule struct {
	ID          string       `json:"id"`
	SpaceID     string       `json:"spaceID"`
	RoomID      string       `json:"roomID"`
	Clauses     []ruleClause `json:"clauses"`
	Action      string       `json:"action"`
	Description string       `json:"description"`
}

// ruleStore is one line of DIR/cloud-claims.jsonl about a rule: its state
// after a create or update, or its removal.
type ruleStore struct {
	Rule    *membershipRule `json:"rule,omitempty"`
	Deleted string          `json:"deleted,omitempty"`
}

func (c *cloud) applyRuleLocked(s ruleStore) {
	if c.rules == nil {
		c.rules = map[string][]membershipRule{}
	}
	for room, rs := range c.rules {
		c.rules[room] = slices.DeleteFunc(rs, func(r membershipRule) bool {
			return r.ID == s.Deleted || (s.Rule != nil && r.ID == s.Rule.ID)
		})
	}
	if s.Rule != nil {
		c.rules[s.Rule.RoomID] = append(c.rules[s.Rule.RoomID], *s.Rule)
	}
}

// apiRules serves the rule endpoints; parts are the path's segments, from
// "api" on.
func (c *cloud) apiRules(w http.ResponseWriter, r *http.Request, parts []string) {
	roomID := parts[5]
	if _, ok := c.roomByID(roomID); !ok {
		cloudError(w, msgAPIRoom)
		return
	}
	id := ""
	if len(parts) == 8 {
		id = parts[7]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	idx := slices.IndexFunc(c.rules[roomID], func(x membershipRule) bool { return x.ID == id })
	if id != "" && idx < 0 {
		cloudError(w, msgAPIRule)
		return
	}
	switch {
	case r.Method == http.MethodGet && id == "":
		writeJSON(w, append([]membershipRule{}, c.rules[roomID]...))
	case r.Method == http.MethodGet:
		writeJSON(w, c.rules[roomID][idx])
	case r.Method == http.MethodDelete && id != "":
		c.storeRuleLocked(ruleStore{Deleted: id})
		writeJSON(w, map[string]any{})
	case (r.Method == http.MethodPost && id == "") || (r.Method == http.MethodPut && id != ""):
		rule, ok := readRule(w, r)
		if !ok {
			return
		}
		rule.ID, rule.SpaceID, rule.RoomID = id, c.spaceID, roomID
		if rule.ID == "" {
			rule.ID = randomUUID()
		}
		c.storeRuleLocked(ruleStore{Rule: &rule})
		writeJSON(w, rule)
	default:
		cloudError(w, msgAPIMethod)
	}
}

func (c *cloud) storeRuleLocked(s ruleStore) {
	c.applyRuleLocked(s)
	if c.store != nil {
		line, _ := json.Marshal(storeLine{RuleStore: &s})
		_, _ = c.store.Write(append(line, '\n'))
	}
}

// readRule reads and checks a rule's body as the provider's schema
// constrains it; it answers 400 itself when the body is wrong.
func readRule(w http.ResponseWriter, r *http.Request) (membershipRule, bool) {
	var rule membershipRule
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	msg := ""
	switch {
	case json.Unmarshal(data, &rule) != nil:
		msg = "body must be {\"action\":...,\"description\":...,\"clauses\":[...]}"
	case rule.Action != "INCLUDE" && rule.Action != "EXCLUDE":
		msg = "action must be INCLUDE or EXCLUDE"
	case len(rule.Clauses) == 0:
		msg = "a rule needs at least one clause"
	}
	for _, cl := range rule.Clauses {
		if msg == "" && (cl.Label == "" || !slices.Contains([]string{"equals", "starts_with", "ends_with", "contains"}, cl.Operator)) {
			msg = "a clause needs a label and an operator of equals, starts_with, ends_with, contains"
		}
	}
	if msg != "" {
		cloudError(w, msgAPIBadRequest, msg)
		return rule, false
	}
	return rule, true
}

// ruleAdmits reports whether a room's rules put a node with labels in it:
// some INCLUDE rule holds and no EXCLUDE rule does.
func ruleAdmits(rules []membershipRule, labels map[string]string) bool {
	in := false
	for _, r := range rules {
		if !r.holds(labels) {
			continue
		}
		if r.Action == "EXCLUDE" {
			return false
		}
		in = true
	}
	return in
}

func (r membershipRule) holds(labels map[string]string) bool {
	for _, cl := range r.Clauses {
		v, ok := labels[cl.Label]
		match := false
		if ok {
			switch cl.Operator {
			case "equals":
				match = v == cl.Value
			case "starts_with":
				match = strings.HasPrefix(v, cl.Value)
			case "ends_with":
				match = strings.HasSuffix(v, cl.Value)
			case "contains":
				match = strings.Contains(v, cl.Value)
			}
		}
		if match == cl.Negate {
			return false
		}
	}
	return true
}

// hostLabels reads a lab agent's netdata.conf [host labels].
func hostLabels(h *host) map[string]string {
	out := map[string]string{}
	for k, v := range readINI(h.paths.conf + "/netdata.conf") {
		if name, ok := strings.CutPrefix(k, "host labels."); ok {
			out[name] = v
		}
	}
	return out
}
