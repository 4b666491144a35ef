package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"gopkg.in/yaml.v3"
)

// The JSON of Ansible's inventory scripts, which `ansible-inventory -i ANY
// --list` prints too, so that every inventory plugin's result can be read:
//
//	{"_meta": {"hostvars": {"h1": {"ansible_host": "10.0.0.1"}}},
//	 "all": {"children": ["ungrouped", "web"]},
//	 "web": {"hosts": ["h1"], "vars": {...}, "children": [...]},
//	 "db": ["h2", "h3"]}
//
// It is read as ansible-core's script plugin reads it
// (lib/ansible/plugins/inventory/script.py, 2.14): a group may be a list
// of hosts; a mapping without hosts, vars or children is a host of the
// group's name with those group variables; hostvars of hosts in no group
// are ignored; without _meta.hostvars, hostVars (the script's --host) is
// asked for each host.

// hostVarsFunc returns one host's variables as JSON, with the name to show
// them under; ok false after it reported an error.
type hostVarsFunc func(host string) (data []byte, shown string, ok bool)

var jsonGroupKeys = []string{"hosts", "vars", "children"}

// parseAnsibleJSON reads inventory-script JSON.
func (l *loader) parseAnsibleJSON(file string, data []byte, hostVars hostVarsFunc) {
	if src := cutJSON(data); src != nil {
		// The last use of data here: the parts let go of the text early.
		l.parseAnsibleJSONParts(file, src, hostVars)
		return
	}
	root := l.parseJSON(file, data)
	if root == nil {
		return
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(file, root.Line, root.Column, "", "inventory JSON is an object of groups, got %s", kindName(root))
		return
	}
	var meta *yaml.Node
	var order []string
	seen := map[string]bool{}
	note := func(h string) {
		if !seen[h] {
			seen[h] = true
			order = append(order, h)
		}
	}
	l.pairs(file, "", root, func(k, v *yaml.Node) {
		if k.Value == "_meta" {
			meta = v
			return
		}
		l.jsonGroup(file, k, v, note)
	})
	var hv *yaml.Node
	if meta != nil && !isNull(meta) {
		if meta.Kind != yaml.MappingNode {
			l.errorf(file, meta.Line, meta.Column, "_meta", "want an object, got %s", kindName(meta))
			return
		}
		l.pairs(file, "_meta", meta, func(k, v *yaml.Node) {
			if k.Value == "hostvars" {
				hv = v
			}
		})
	}
	if hv != nil {
		if hv.Kind != yaml.MappingNode {
			l.errorf(file, hv.Line, hv.Column, "_meta.hostvars", "want an object of hosts, got %s", kindName(hv))
			return
		}
		l.pairs(file, "_meta.hostvars", hv, func(k, v *yaml.Node) {
			if seen[k.Value] {
				l.jsonHostVars(file, "_meta.hostvars."+k.Value, k, v)
			}
		})
		return
	}
	l.scriptHostVars(order, hostVars)
}

// scriptHostVars asks an inventory script for the variables of each host,
// when its JSON has no _meta.hostvars.
func (l *loader) scriptHostVars(order []string, hostVars hostVarsFunc) {
	if hostVars == nil {
		return
	}
	for _, h := range order {
		data, shown, ok := hostVars(h)
		if !ok {
			continue
		}
		n := l.parseJSON(shown, data)
		if n == nil {
			continue
		}
		l.jsonHostVars(shown, "", scalarNode(h, n.Line, n.Column), n)
	}
}

// jsonGroup reads one top-level group.
func (l *loader) jsonGroup(file string, k, v *yaml.Node, note func(string)) {
	name := k.Value
	if name == "" || strings.ContainsAny(name, " \t:,!&@*?[]") {
		l.errorf(file, k.Line, k.Column, name, "group name %q: use letters, digits, '-', '_' and '.'", truncate(name, 80))
		return
	}
	g := l.defineGroup(name, file, k.Line, k.Column)
	gi := l.groupIdx[name]
	addHosts := func(key string, n *yaml.Node) {
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			l.errorf(file, n.Line, n.Column, key, "want a list of host names, got %s", kindName(n))
			return
		}
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode || it.Value == "" {
				l.errorf(file, it.Line, it.Column, key, "want a host name, got %s", kindName(it))
				continue
			}
			l.addHost(it.Value, gi, nil, file, it.Line, it.Column, key)
			note(it.Value)
		}
	}
	switch {
	case isNull(v):
	case v.Kind == yaml.SequenceNode:
		addHosts(name, v)
	case v.Kind != yaml.MappingNode:
		l.errorf(file, v.Line, v.Column, name, "want a group (hosts, vars, children) or a list of hosts, got %s", kindName(v))
	case !hasAnyKey(v, jsonGroupKeys):
		// A group that is one host of the same name, with group variables.
		l.addHost(name, gi, nil, file, k.Line, k.Column, name)
		note(name)
		l.addGroupVals(g, l.ansibleVars(file, name, groupWhere(name), l.mappingVars(file, name, v), g))
	default:
		l.pairs(file, name, v, func(kk, vv *yaml.Node) {
			key := name + "." + kk.Value
			switch kk.Value {
			case "hosts":
				addHosts(key, vv)
			case "vars":
				l.addGroupVals(g, l.ansibleVars(file, key, groupWhere(name), l.mappingVars(file, key, vv), g))
				l.checkLevel(file, key, g.vals)
			case "children":
				l.nameList(file, key, vv, func(c *yaml.Node) {
					if c.Value == "all" {
						l.errorf(file, c.Line, c.Column, key, `"all" cannot be a child group`)
						return
					}
					l.defineGroup(c.Value, file, c.Line, c.Column)
					g.children = append(g.children, nameRef{name: c.Value, file: file, line: c.Line, col: c.Column})
				})
			default:
				l.errorf(file, kk.Line, kk.Column, key, "unknown group key%s; a group has hosts, vars and children",
					didYouMean(kk.Value, jsonGroupKeys))
			}
		})
	}
}

// defineGroup returns the group, marked defined at its first definition.
func (l *loader) defineGroup(name, file string, line, col int) *groupRec {
	g := l.group(name, file, line, col)
	if !g.defined {
		g.file, g.line, g.col, g.defined = file, line, col, true
	}
	return g
}

func hasAnyKey(m *yaml.Node, keys []string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		for _, k := range keys {
			if m.Content[i].Value == k {
				return true
			}
		}
	}
	return false
}

// jsonHostVars gives the host named by k the variables of v.
func (l *loader) jsonHostVars(file, prefix string, k, v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		l.errorf(file, v.Line, v.Column, prefix, "want an object of variables, got %s", kindName(v))
		return
	}
	entry := &hostEntry{vals: l.ansibleVars(file, prefix, hostWhere(k.Value), l.mappingVars(file, prefix, v), nil)}
	l.addHost(k.Value, -1, entry, file, k.Line, k.Column, prefix)
}

// parseJSON parses JSON (strictly: inventory scripts print JSON) into a
// node tree that keeps lines and columns.
func (l *loader) parseJSON(file string, data []byte) *yaml.Node {
	if err := checkJSON(data); err != nil {
		var se *json.SyntaxError
		line := 0
		if errors.As(err, &se) {
			line = bytes.Count(data[:min(int(se.Offset), len(data))], []byte{'\n'}) + 1
		}
		l.errorf(file, line, 0, "", "JSON: %v", err)
		return nil
	}
	root := l.parseYAML(file, data)
	if root == nil && len(l.errs) == 0 {
		// JSON that YAML cannot read (tabs for indentation, say): re-indent.
		var b bytes.Buffer
		if json.Indent(&b, data, "", " ") == nil {
			root = l.parseYAML(file, b.Bytes())
		}
	}
	if root == nil && len(l.errs) == 0 {
		l.errorf(file, 0, 0, "", "empty inventory JSON")
	}
	return root
}

// checkJSON reports data that is not one JSON value.
func checkJSON(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// looksLikeScriptJSON tells inventory-script JSON (hosts as lists, _meta)
// from a JSON-syntax Ansible YAML inventory (hosts as mappings).
func looksLikeScriptJSON(data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	s := newJSONScanner(data, jsonSpan{0, 1, 1})
	if s.peek() != '{' {
		return false
	}
	found := false
	s.object(func(k string, _, _ int) {
		switch {
		case found:
		case k == "_meta" || s.peek() == '[':
			found = true
		case s.peek() == '{':
			s.object(func(gk string, _, _ int) {
				if (gk == "hosts" || gk == "children") && s.peek() == '[' {
					found = true
				}
				s.skip()
			})
			return
		}
		s.skip()
	})
	return found
}
