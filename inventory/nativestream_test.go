package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// partsCases are native inventories whose reading in parts must equal the
// whole tree's: the cut's edges (anchors across and within parts, quoted
// keys, comments, block scalars, flow and odd indentation, duplicates
// across batches), and a syntax error late in a file.
func partsCases() map[string]string {
	var many strings.Builder
	many.WriteString("groups:\n  web:\n    user: w\n    hosts:\n")
	for i := range 3 * nativeHostBatch {
		fmt.Fprintf(&many, "      h%04d.example.com: {address: 10.0.%d.%d}\n", i, i/250, i%250+1)
	}
	dup := many.String() + "      h0007.example.com: {address: 10.9.9.9}\n"
	return map[string]string{
		"many":            many.String(),
		"duplicate host":  dup,
		"late syntax":     many.String() + "      h9999.example.com: {address: [\n",
		"late bad key":    many.String() + "    hostz: {}\n",
		"anchor across":   "defaults: &d\n  user: a\ngroups:\n  web:\n    <<: *d\n    hosts: {h1: {address: 10.0.0.1}}\n",
		"alias across":    "groups:\n  web:\n    rooms: &r [a]\n    hosts:\n      h1: {address: 10.0.0.1}\n  db:\n    rooms: *r\n    hosts:\n      h2: {address: 10.0.0.2}\n",
		"alias within":    "groups:\n  web:\n    hosts:\n      h1: &h {user: u}\n      h2: *h\n",
		"anchored hosts":  "groups:\n  web:\n    hosts: &hs\n      h1: {user: u}\n  db:\n    hosts: *hs\n",
		"quoted keys":     "groups:\n  \"web\":\n    hosts:\n      \"[::1]:2222\": {user: a}\n      'h''2': null\n      h3:\n",
		"quoted groups":   "\"groups\":\n  web:\n    hosts:\n      h1:\n",
		"comments":        "# top\ngroups: # the groups\n# at zero\n  web:\n    # inside\n    hosts: # here\n  # less\n      h1: {}  # one\n      h2:\n",
		"block scalar":    "groups:\n  web:\n    proxy_command: |\n      ssh -W %h:%p\n        bastion\n    hosts:\n      h1:\n        proxy_command: >-\n          ssh\n          x\n",
		"flow top":        "{groups: {web: {hosts: {h1: {}}}}}\n",
		"flow groups":     "groups: {web: {hosts: {h1: {}}}}\nhosts:\n  h2:\n",
		"odd indent":      "groups:\n  web:\n    hosts:\n      h1:\n     h2:\n",
		"deeper group":    "groups:\n  web:\n    hosts:\n      h1:\n   db:\n",
		"sequence hosts":  "groups:\n  web:\n    hosts:\n    - h1\n    - h2\n",
		"two hosts keys":  "groups:\n  web:\n    hosts:\n      h1:\n    hosts:\n      h2:\n",
		"duplicate group": "groups:\n  web:\n    hosts:\n      h1:\n  web:\n    hosts:\n      h2:\n",
		"duplicate top":   "groups:\n  web:\n    hosts:\n      h1:\ngroups:\n  db:\n",
		"bad group name":  "groups:\n  all:\n    hosts:\n      h1:\n  \"a b\":\n    hosts:\n      h2:\n",
		"tab":             "groups:\n  web:\n    hosts:\n\t h1:\n",
		"document marker": "---\ngroups:\n  web:\n    hosts:\n      h1:\n",
		"top hosts":       "defaults: {user: d}\nhosts:\n  h1: {address: 10.0.0.1}\n  h2:\n  h1: {}\n",
		"multi-line flow": "groups:\n  web:\n    children: [db,\n  db]\n    hosts:\n      h1:\n  db:\n    hosts:\n      h2:\n",
		"group no hosts":  "groups:\n  web:\n  db: null\n  x: {user: a}\n  y:\n    user: b\n    hosts:\n",
		"empty":           "",
		"comment only":    "# nothing\n",
		"key at end":      "groups:\n  web:\n    hosts:\n      h1:\nhosts",
	}
}

// loadBoth loads the native inventory p in parts and as one tree.
func loadBoth(t *testing.T, p string) (parts, whole *Inventory, perr, werr error) {
	t.Helper()
	opts := testOpts()
	opts.Format = "native"
	parts, perr = Load(p, opts)
	opts.wholeYAML = true
	whole, werr = Load(p, opts)
	return parts, whole, perr, werr
}

// samePartsWhole fails t when the inventory at p reads differently in parts
// and whole.
func samePartsWhole(t *testing.T, p string) {
	t.Helper()
	parts, whole, perr, werr := loadBoth(t, p)
	if !reflect.DeepEqual(perr, werr) {
		t.Fatalf("errors differ:\nparts %v\nwhole %v", perr, werr)
	}
	if perr != nil {
		return
	}
	if !reflect.DeepEqual(parts.Hosts, whole.Hosts) || !reflect.DeepEqual(parts.Groups, whole.Groups) ||
		!reflect.DeepEqual(parts.Warnings, whole.Warnings) {
		t.Fatalf("inventories differ:\nparts %d hosts %v\nwhole %d hosts %v", len(parts.Hosts), parts.Warnings, len(whole.Hosts), whole.Warnings)
	}
}

// TestNativePartsSameAsWhole: a native inventory read in parts gives the
// hosts, groups, warnings and errors (file:line:col) of the whole tree.
func TestNativePartsSameAsWhole(t *testing.T) {
	dir := t.TempDir()
	for name, content := range partsCases() {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			samePartsWhole(t, p)
		})
	}
	for i, tc := range badInputCases() {
		if !strings.HasSuffix(tc.file, ".yml") || strings.HasPrefix(tc.name, "ansible") {
			continue
		}
		t.Run("bad/"+tc.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("bad%d.yml", i))
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			samePartsWhole(t, p)
		})
	}
	files, _ := filepath.Glob("testdata/native*/*.yml")
	examples, _ := filepath.Glob("../examples/*.yml")
	files = append(append(files, examples...), writeScaleInventory(t, "native", 2000))
	for _, p := range files {
		t.Run(p, func(t *testing.T) { samePartsWhole(t, p) })
	}
}

// TestNativePartsCut: the cut reads invgen's fleet and the cases meant
// for it in parts, and leaves to the whole tree the ones it cannot place.
func TestNativePartsCut(t *testing.T) {
	cases := partsCases()
	for name, want := range map[string]bool{
		"many": true, "duplicate host": true, "alias within": true, "quoted keys": true, "comments": true,
		"block scalar": true, "top hosts": true, "two hosts keys": true, "duplicate group": true, "duplicate top": true,
		"bad group name": true, "group no hosts": true, "late bad key": true, "invgen": true,
		"late syntax": false, "anchor across": false, "alias across": false, "anchored hosts": false, "flow top": false,
		"odd indent": false, "deeper group": false, "sequence hosts": false, "tab": false, "document marker": false,
		"multi-line flow": false, "key at end": false,
	} {
		data := []byte(cases[name])
		if name == "invgen" {
			var b strings.Builder
			if err := writeInvgen(&b, "native", 2000); err != nil {
				t.Fatal(err)
			}
			data = []byte(b.String())
		}
		l, err := newLoader("inv.yml", testOpts())
		if err != nil {
			t.Fatal(err)
		}
		l.beginFile("inv.yml")
		got := l.parseNativeParts("inv.yml", data)
		if got != want {
			t.Errorf("%s: read in parts %v, want %v", name, got, want)
		}
		if !got && (len(l.errs) > 0 || len(l.hosts) > 0 || len(l.groups) > 1 || len(l.warns) > 0) {
			t.Errorf("%s: not read in parts, yet %d errors, %d hosts, %d groups kept", name, len(l.errs), len(l.hosts), len(l.groups))
		}
	}
}

// TestNativePartsUndo: what a cut reads before it gives up is undone, the
// inventory read before it included.
func TestNativePartsUndo(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "a.yml")
	second := filepath.Join(dir, "b.yml")
	os.WriteFile(first, []byte("defaults: {user: a}\ngroups:\n  web:\n    port: 2222\n    hosts:\n      h1:\n"), 0o644)
	os.WriteFile(second, []byte("groups:\n  web:\n    user: b\n    hosts:\n      h1: {address: 10.0.0.9}\n      h2:\n  db:\n    hosts:\n      h3: *nosuch\n"), 0o644)
	opts := testOpts()
	opts.Format = "native"
	_, perr := LoadSources(t.Context(), []string{first, second}, opts)
	opts.wholeYAML = true
	_, werr := LoadSources(t.Context(), []string{first, second}, opts)
	if perr == nil || !reflect.DeepEqual(perr, werr) {
		t.Fatalf("errors differ:\nparts %v\nwhole %v", perr, werr)
	}
	os.WriteFile(second, []byte("groups:\n  web:\n    user: &u b\n    hosts:\n      h2:\n  db:\n    user: *u\n    hosts:\n      h3:\n"), 0o644)
	opts.wholeYAML = false
	parts, perr := LoadSources(t.Context(), []string{first, second}, opts)
	opts.wholeYAML = true
	whole, werr := LoadSources(t.Context(), []string{first, second}, opts)
	if perr != nil || werr != nil {
		t.Fatalf("errors: parts %v, whole %v", perr, werr)
	}
	if !reflect.DeepEqual(parts.Hosts, whole.Hosts) || len(parts.Hosts) != 3 {
		t.Fatalf("hosts differ:\nparts %+v\nwhole %+v", parts.Hosts, whole.Hosts)
	}
}

// fastLines are host lines for TestNativeFastEntry: the kinds fastEntry
// builds, and its edges, which it must leave to yaml.v3 or build alike.
var fastLines = []string{
	"h1.example.com:", "h1.example.com:   ", "h1: {}", "h1: { }", "h1: {address: 10.0.0.1}", "h1: {address: 10.0.0.1, port: 22}",
	"h1:  {  user: a_b ,  port: 0 }", "10.0.0.5: {user: x}", "h1: {port: 08}", "h1: {port: 022}", "h1: {port: 1234567890}",
	"h1: {a: true}", "h1: {a: True}", "h1: {a: yes}", "h1: {a: null}", "h1: {a: ~}", "h1: {a: 1.5}", "h1: {a: 1.2.3}", "h1: {a: 1e3}",
	"h1: {a: 2001-12-14}", "h1: {a: .inf}", "h1: {a: -1}", "h1: {a: /etc/x}", "h1: {a: b,}", "h1: {a:b}", "h1:{a: b}", "h1: {a: b} # c",
	"h1: {a: [b]}", "h1: {a: \"b\"}", "h1: {a: b", "h1: {a: b}}", "web[1:3]: {}", "h1: x", "h1: {a: 10.0.0.}", "h1: {a: 1..2}", "_h: {}",
	"/h: {}", "-h: {}", "h1: {a: b-c.d/e_f}", "h1: {a: 0}", "123: {a: b}", "h1: {a: b, c: d, e: f}", "h1: {a: 0x1F}", "h1: {a: 1_000}",
}

// TestNativeFastEntry: what fastEntry builds of a host line is the tree
// yaml.v3 builds of it (kinds, tags, values, lines, columns); a line it
// does not build is one of the edges, left to yaml.v3.
func TestNativeFastEntry(t *testing.T) {
	built := 0
	for _, line := range fastLines {
		if checkFastEntry(t, line) {
			built++
		}
	}
	if built < 14 {
		t.Errorf("fastEntry built only %d of the %d lines", built, len(fastLines))
	}
	for _, line := range []string{"h1: {a: b,}", "h1: {a: 1e3}", "h1: {a: true}", "h1: {port: 08}", "web[1:3]: {}", "h1: {a: b} # c"} {
		if k, _ := fastEntry([]byte("    "+line), 7, 4); k != nil {
			t.Errorf("%q: built, want it left to yaml.v3", line)
		}
	}
}

// checkFastEntry compares fastEntry with yaml.v3 for one line, indented 4
// at line 7; it reports whether fastEntry built it.
func checkFastEntry(t *testing.T, line string) bool {
	t.Helper()
	text := "    " + line
	k, v := fastEntry([]byte(text), 7, 4)
	if k == nil {
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(strings.Repeat("\n", 6)+text+"\n"), &doc); err != nil {
		t.Errorf("%q: built, but yaml.v3 refuses it: %v", line, err)
		return true
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		t.Errorf("%q: built, but yaml.v3 reads %d nodes", line, len(m.Content))
		return true
	}
	if d := sameTree(line+"/key", k, m.Content[0]); d != "" {
		t.Error(d)
	}
	if d := sameTree(line+"/value", v, m.Content[1]); d != "" {
		t.Error(d)
	}
	return true
}

func FuzzNativeFastEntry(f *testing.F) {
	for _, l := range fastLines {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n\r") {
			return
		}
		checkFastEntry(t, line)
	})
}
