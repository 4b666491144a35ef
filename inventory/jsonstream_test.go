package inventory

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameTree reports the first difference between the tree the part-wise
// JSON reader built and yaml.v3's.
func sameTree(path string, got, want *yaml.Node) string {
	if got.Kind != want.Kind || got.Tag != want.Tag || got.Value != want.Value || got.Line != want.Line || got.Column != want.Column ||
		len(got.Content) != len(want.Content) {
		return fmt.Sprintf("%s: got kind %d tag %s %q at %d:%d (%d children), yaml.v3 kind %d tag %s %q at %d:%d (%d children)", path,
			got.Kind, got.Tag, got.Value, got.Line, got.Column, len(got.Content), want.Kind, want.Tag, want.Value, want.Line, want.Column, len(want.Content))
	}
	for i := range got.Content {
		if d := sameTree(fmt.Sprintf("%s/%d", path, i), got.Content[i], want.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

var jsonTreeCases = map[string]string{
	"shapes": `{"_meta": {"hostvars": {"h1": {"ansible_host": "10.0.0.1", "n": 12, "f": 1.5, "e": 1e3, "neg": -4, "t": true, "x": null,
  "l": [1, [], {}, "two"], "o": {"a": {"b": []}}}}},
 "all": {"children": ["ungrouped", "web"]},
 "web": {"hosts": ["h1"], "vars": {"netdata_claim_rooms": ["a", "b"]}},
 "db": ["h2", "h3"], "ungrouped": {}}`,
	"unicode and escapes": "{\"wéb\": {\"hosts\": [\"hé1\", \"h\\u00e92\", \"a\\\"b\", \"c\\\\d\"], \"vars\": {\"ké\": \"vàl\\n\"}},\n  \"ünï\": [\"ö\"]}",
	"crlf":                "{\r\n \"g\": {\r\n  \"hosts\": [\"a\",\r\n \"b\"]\r\n }\r\n}\r\n",
	"compact":             `{"_meta":{"hostvars":{}},"g":{"hosts":["a","b"],"children":["c"]},"c":{"hosts":["d"]}}`,
	"no meta":             "{\n\"g\": [\"a\"]\n}\n",
}

// TestJSONPartsTree: every part the part-wise reader builds is the tree
// yaml.v3 builds for the same text, at the same lines and columns.
func TestJSONPartsTree(t *testing.T) {
	cases := map[string]string{}
	for k, v := range jsonTreeCases {
		cases[k] = v
	}
	data, err := os.ReadFile(ansibleListFixture)
	if err != nil {
		t.Fatal(err)
	}
	cases["ansible-inventory --list fixture"] = string(data)
	var b strings.Builder
	if err := writeInvgen(&b, "json", 300); err != nil {
		t.Fatal(err)
	}
	cases["invgen"] = b.String()
	b.Reset()
	// Enough hosts for several chunks of packed hostvars.
	if err := writeInvgen(&b, "json", 4000); err != nil {
		t.Fatal(err)
	}
	cases["invgen, 4,000 hosts"] = b.String()
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
				t.Fatal(err)
			}
			root := doc.Content[0]
			parts, ok := jsonParts([]byte(text))
			if !ok {
				t.Fatal("read whole")
			}
			if len(parts) != len(root.Content)/2 {
				t.Fatalf("%d parts, yaml.v3 %d keys", len(parts), len(root.Content)/2)
			}
			for i, p := range parts {
				k, v := root.Content[2*i], root.Content[2*i+1]
				if p.key != k.Value || p.kl != k.Line || p.kc != k.Column {
					t.Errorf("key %q at %d:%d, yaml.v3 %q at %d:%d", p.key, p.kl, p.kc, k.Value, k.Line, k.Column)
				}
				if d := sameTree(p.key, newJSONScanner([]byte(text), p.val).node(), v); d != "" {
					t.Error(d)
				}
				if !p.meta {
					continue
				}
				var hv *yaml.Node
				for j := 0; j+1 < len(v.Content); j += 2 {
					if v.Content[j].Value == "hostvars" {
						hv = v.Content[j+1]
					}
				}
				if hv == nil || len(p.hostvars) != len(hv.Content)/2 {
					t.Fatalf("hostvars: %d parts, yaml.v3 %v", len(p.hostvars), hv)
				}
				for j, h := range p.hostvars {
					hk := hv.Content[2*j]
					if key := h.key([]byte(text)); key != hk.Value || int(h.kl) != hk.Line || int(h.kc) != hk.Column {
						t.Errorf("host %q at %d:%d, yaml.v3 %q at %d:%d", key, h.kl, h.kc, hk.Value, hk.Line, hk.Column)
					}
					if d := sameTree("hostvars/"+hk.Value, newJSONScanner([]byte(text), h.span()).node(), hv.Content[2*j+1]); d != "" {
						t.Error(d)
					}
				}
				// Packed, as they wait for the groups: the same keys
				// and trees, in order.
				j := 0
				eachHostvar(packHostvars([]byte(text), p.hostvars), func(key string, kl, kc int, value *jsonScanner) {
					if j >= len(hv.Content)/2 {
						t.Fatalf("packed: more than %d hosts", j)
					}
					hk := hv.Content[2*j]
					if key != hk.Value || kl != hk.Line || kc != hk.Column {
						t.Errorf("packed host %q at %d:%d, yaml.v3 %q at %d:%d", key, kl, kc, hk.Value, hk.Line, hk.Column)
					}
					if d := sameTree("packed/"+hk.Value, value.node(), hv.Content[2*j+1]); d != "" {
						t.Error(d)
					}
					j++
				})
				if j != len(hv.Content)/2 {
					t.Errorf("packed: %d hosts, yaml.v3 %d", j, len(hv.Content)/2)
				}
			}
		})
	}
}

// TestJSONPartsWhole: shapes the part-wise reader leaves to the whole-tree
// reading, so that their diagnostics stay yaml.v3's.
func TestJSONPartsWhole(t *testing.T) {
	for name, text := range map[string]string{
		"not an object":     `["a"]`,
		"duplicate group":   `{"g": ["a"], "g": ["b"]}`,
		"duplicate host":    `{"_meta": {"hostvars": {"a": {}, "a": {}}}, "g": ["a"]}`,
		"meta not object":   `{"_meta": [1], "g": ["a"]}`,
		"hostvars null":     `{"_meta": {"hostvars": null}, "g": ["a"]}`,
		"hostvars list":     `{"_meta": {"hostvars": []}, "g": ["a"]}`,
		"NUL in a key":      `{"g\u0000": ["a"]}`,
		"NUL in a host":     `{"_meta": {"hostvars": {"a\u0000": {}}}, "g": ["a"]}`,
		"tab":               "{\t\"g\": [\"a\"]}",
		"lone carriage ret": "{\r\"g\": [\"a\"]}",
		"null":              `null`,
		"escaped slash":     `{"g": ["a\/b"]}`,
		"surrogates":        `{"g": ["\ud83d\ude00"]}`,
	} {
		if _, ok := jsonParts([]byte(text)); ok {
			t.Errorf("%s: read in parts", name)
		}
	}
}
