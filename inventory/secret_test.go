package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// secretValue is what the redaction tests wrap: text that cannot appear in
// any redacted output by chance.
const secretValue = "s3cret-claim-token-7f1c"

// TestSecretDirectFormatters: each formatting method of Secret, called
// directly, gives the redaction and never the value.
func TestSecretDirectFormatters(t *testing.T) {
	s := NewSecret(secretValue)
	j, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	txt, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]string{
		"String":      s.String(),
		"GoString":    s.GoString(),
		"MarshalJSON": string(j),
		"MarshalText": string(txt),
	} {
		want := "[REDACTED]"
		if what == "MarshalJSON" {
			want = `"[REDACTED]"`
		}
		if got != want {
			t.Errorf("%s() = %q, want %q", what, got, want)
		}
	}
	if s.Reveal() != secretValue || s.IsZero() {
		t.Fatalf("Reveal() = %q, IsZero() = %v: the value itself is lost", s.Reveal(), s.IsZero())
	}
	if z := (Secret{}); !z.IsZero() || z.Reveal() != "" || !NewSecret("").IsZero() {
		t.Fatal("the zero Secret is not zero")
	}
}

// secretHolders are the shapes a Secret is printed or encoded in: alone, by
// pointer, in a struct (exported and unexported fields, by value and by
// pointer), in maps and slices, and nested.
func secretHolders() map[string]any {
	s := NewSecret(secretValue)
	type exported struct {
		Token Secret
		Ptr   *Secret
	}
	type unexported struct {
		Name  string
		token Secret
		ptr   *Secret
	}
	type nested struct {
		Hosts []exported
		ByRef map[string]Secret
	}
	return map[string]any{
		"value":             s,
		"pointer":           &s,
		"exported fields":   exported{Token: s, Ptr: &s},
		"unexported fields": unexported{Name: "api", token: s, ptr: &s},
		"pointer to struct": &unexported{Name: "api", token: s, ptr: &s},
		"map":               map[string]Secret{"token": s},
		"map of pointers":   map[string]*Secret{"token": &s},
		"slice":             []Secret{s, s},
		"array":             [1]Secret{s},
		"interface slice":   []any{s, &s},
		"nested":            nested{Hosts: []exported{{Token: s}}, ByRef: map[string]Secret{"a": s}},
		"pointer to nested": &nested{Hosts: []exported{{Token: s, Ptr: &s}}},
		"map of unexported": map[string]unexported{"x": {token: s}},
		"slice of pointers": []*Secret{&s},
		"struct in a slice": []unexported{{token: s}},
		"map key":           map[Secret]int{s: 1},
	}
}

// TestSecretFmtVerbs: no verb of fmt prints the value, whatever holds it.
// A Secret in an unexported field is printed by fmt without its methods
// (reflection cannot call them), so the redaction cannot rely on methods
// alone there.
func TestSecretFmtVerbs(t *testing.T) {
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%t", "%10.3s", "%-20v", "%T"}
	for name, v := range secretHolders() {
		for _, verb := range verbs {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, secretValue) || strings.Contains(strings.ToLower(got), fmt.Sprintf("%x", secretValue)) {
				t.Errorf("%s with %s printed the value: %s", name, verb, got)
			}
		}
		if got := fmt.Sprint(v) + fmt.Sprintln(v); strings.Contains(got, secretValue) {
			t.Errorf("%s with Sprint/Sprintln printed the value: %s", name, got)
		}
	}
	// What the plain verbs show of a lone Secret: the redaction itself, so
	// that a reader sees a secret was there.
	s := NewSecret(secretValue)
	for verb, want := range map[string]string{"%v": "[REDACTED]", "%s": "[REDACTED]", "%#v": "[REDACTED]", "%+v": "[REDACTED]", "%q": `"[REDACTED]"`} {
		if got := fmt.Sprintf(verb, s); got != want {
			t.Errorf("Sprintf(%q, secret) = %q, want %q", verb, got, want)
		}
	}
	if got := fmt.Sprintf("%v", map[string]Secret{"token": s}); got != "map[token:[REDACTED]]" {
		t.Errorf("a map of secrets prints %q", got)
	}
	if got := fmt.Sprintf("%v", []Secret{s}); got != "[[REDACTED]]" {
		t.Errorf("a slice of secrets prints %q", got)
	}
}

// TestSecretEncoders: JSON, YAML (yaml.v3) and text encodings show the
// redaction wherever the Secret sits (encoders skip unexported fields).
func TestSecretEncoders(t *testing.T) {
	for name, v := range secretHolders() {
		if name == "map key" {
			continue // JSON and YAML keys go through MarshalText: checked below
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Errorf("%s: json: %v", name, err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Errorf("%s: yaml: %v", name, err)
		}
		for enc, out := range map[string][]byte{"json": j, "yaml": y} {
			if strings.Contains(string(out), secretValue) {
				t.Errorf("%s: %s holds the value: %s", name, enc, out)
			}
		}
	}
	s := NewSecret(secretValue)
	exact := []struct {
		what string
		got  func() ([]byte, error)
		want string
	}{
		{"json value", func() ([]byte, error) { return json.Marshal(s) }, `"[REDACTED]"`},
		{"json field", func() ([]byte, error) { return json.Marshal(struct{ Token Secret }{s}) }, `{"Token":"[REDACTED]"}`},
		{"json pointer field", func() ([]byte, error) { return json.Marshal(struct{ Token *Secret }{&s}) }, `{"Token":"[REDACTED]"}`},
		{"json map", func() ([]byte, error) { return json.Marshal(map[string]Secret{"t": s}) }, `{"t":"[REDACTED]"}`},
		{"json slice", func() ([]byte, error) { return json.Marshal([]Secret{s}) }, `["[REDACTED]"]`},
		{"json key", func() ([]byte, error) { return json.Marshal(map[Secret]int{s: 1}) }, `{"[REDACTED]":1}`},
		{"yaml value", func() ([]byte, error) { return yaml.Marshal(s) }, "'[REDACTED]'\n"},
		{"yaml field", func() ([]byte, error) { return yaml.Marshal(struct{ Token Secret }{s}) }, "token: '[REDACTED]'\n"},
		{"yaml map", func() ([]byte, error) { return yaml.Marshal(map[string]Secret{"t": s}) }, "t: '[REDACTED]'\n"},
		{"yaml slice", func() ([]byte, error) { return yaml.Marshal([]Secret{s}) }, "- '[REDACTED]'\n"},
	}
	for _, c := range exact {
		out, err := c.got()
		if err != nil || string(out) != c.want {
			t.Errorf("%s: %q (%v), want %q", c.what, out, err, c.want)
		}
	}
}
