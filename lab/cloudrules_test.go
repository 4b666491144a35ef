package lab

import "testing"

// TestRuleAdmits: the provider's acceptance-test rule (INCLUDE role equals
// parent and not environment equals production:
// internal/provider/node_room_member_test.go:29-44), rules OR'd, clauses
// AND'd, and EXCLUDE over INCLUDE.
func TestRuleAdmits(t *testing.T) {
	tf := membershipRule{Action: "INCLUDE", Clauses: []ruleClause{
		{Label: "role", Operator: "equals", Value: "parent"},
		{Label: "environment", Operator: "equals", Value: "production", Negate: true}}}
	web := membershipRule{Action: "INCLUDE", Clauses: []ruleClause{{Label: "fleetclaim_group", Operator: "starts_with", Value: "we"}}}
	noTest := membershipRule{Action: "EXCLUDE", Clauses: []ruleClause{{Label: "name", Operator: "ends_with", Value: "-test"}}}
	rules := []membershipRule{tf, web, noTest}
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"role": "parent"}, true},
		{map[string]string{"role": "parent", "environment": "production"}, false},
		{map[string]string{"role": "parent", "environment": "staging"}, true},
		{map[string]string{"role": "child"}, false},
		{map[string]string{"fleetclaim_group": "web"}, true},
		{map[string]string{"fleetclaim_group": "web", "name": "a-test"}, false},
		{map[string]string{"name": "a-test"}, false},
		{nil, false},
	} {
		if got := ruleAdmits(rules, tc.labels); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.labels, got, tc.want)
		}
	}
	if !(membershipRule{Action: "INCLUDE", Clauses: []ruleClause{{Label: "x", Operator: "contains", Value: "ll"}}}).holds(map[string]string{"x": "hello"}) {
		t.Error("contains")
	}
}
