package inventory

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML parses data into a document node, reporting syntax errors with
// their line.
func (l *loader) parseYAML(file string, data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErrorLine(err)
		l.errorf(file, line, 0, "", "YAML: %s", msg)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil
	}
	return resolveAlias(doc.Content[0])
}

// yamlLineRE reads the line number out of a yaml.v3 error.
var yamlLineRE = regexp.MustCompile(`line (\d+): `)

func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
		n, _ := strconv.Atoi(msg[m[2]:m[3]])
		return n, msg[:m[0]] + msg[m[1]:]
	}
	return 0, msg
}

// pairs iterates a mapping's key/value nodes, reporting non-string and
// duplicate keys. Merge keys (<<) are not supported and reported.
func (l *loader) pairs(file, prefix string, m *yaml.Node, fn func(k, v *yaml.Node)) {
	l.pairsOf(file, prefix, m, false, fn)
}

// pairsOf is pairs; with drop, it also lets go of each pair once read, so
// that a large mapping (the hosts of a group) is garbage as it is read.
func (l *loader) pairsOf(file, prefix string, m *yaml.Node, drop bool, fn func(k, v *yaml.Node)) {
	var seen map[string]int // key → its line
	if len(m.Content) > 2 {
		seen = make(map[string]int, len(m.Content)/2)
	}
	l.pairsSeen(file, prefix, m, drop, seen, fn)
}

// pairsSeen is pairsOf with the keys already read (seen, nil for none
// to check), as when one mapping is read in several parts.
func (l *loader) pairsSeen(file, prefix string, m *yaml.Node, drop bool, seen map[string]int, fn func(k, v *yaml.Node)) {
	// An anchored mapping may be read again through an alias.
	drop = drop && m.Anchor == ""
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolveAlias(m.Content[i]), resolveAlias(m.Content[i+1])
		if drop {
			m.Content[i], m.Content[i+1] = nil, nil
		}
		if l.checkKey(file, prefix, k, seen) {
			fn(k, v)
		}
	}
	if drop {
		m.Content = nil
	}
}

// checkKey reports a mapping key that is not a string, holds a NUL, is a
// merge key (<<, not supported) or repeats one of seen (key → its line;
// nil: not checked), and records it in seen.
func (l *loader) checkKey(file, prefix string, k *yaml.Node, seen map[string]int) bool {
	if k.Kind != yaml.ScalarNode {
		l.errorf(file, k.Line, k.Column, prefix, "keys must be strings, got %s", kindName(k))
		return false
	}
	if strings.IndexByte(k.Value, 0) >= 0 {
		l.errorf(file, k.Line, k.Column, prefix, "key contains a NUL byte")
		return false
	}
	if k.Value == "<<" && k.Tag == "!!merge" {
		l.errorf(file, k.Line, k.Column, prefix, "YAML merge keys (<<) are not supported; repeat the settings or use a group")
		return false
	}
	if seen != nil {
		if prev, dup := seen[k.Value]; dup {
			l.errorf(file, k.Line, k.Column, join(prefix, k.Value), "duplicate key (first at line %d)", prev)
			return false
		}
		seen[k.Value] = k.Line
	}
	return true
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// nativeTopKeys are the keys of a native inventory.
var nativeTopKeys = []string{"defaults", "groups", "hosts"}

// parseRoot parses file and returns its top-level mapping, or nil after
// reporting an empty file or another kind of document (want says what a
// valid one is).
func (l *loader) parseRoot(file string, data []byte, want string) *yaml.Node {
	root := l.parseYAML(file, data)
	if root == nil {
		if len(l.errs) == 0 {
			l.errorf(file, 0, 0, "", "empty inventory")
		}
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(file, root.Line, root.Column, "", "%s, got %s", want, kindName(root))
		return nil
	}
	return root
}

func (l *loader) parseNative(file string, data []byte) {
	if ok, mark := l.readParts(file, data); ok {
		if len(l.errs) == mark.errs {
			return
		}
		// A file with a mistake is read again whole, so that its
		// diagnostics are the whole tree's: yaml.v3 refuses the file for a
		// syntax error in a part after the one that holds the mistake.
		l.undo(mark)
	}
	root := l.parseRoot(file, data, "an inventory is a mapping with defaults, groups and hosts")
	if root == nil {
		return
	}
	l.pairs(file, "", root, func(k, v *yaml.Node) { l.nativeTop(file, k, v) })
}

// nativeTop reads one top-level key of a native inventory.
func (l *loader) nativeTop(file string, k, v *yaml.Node) {
	switch k.Value {
	case "defaults":
		if isNull(v) {
			return
		}
		all := l.groups[0]
		all.file, all.line, all.col = file, k.Line, k.Column
		l.addGroupVals(all, l.settings(file, "defaults", "defaults", v, nil))
	case "groups":
		l.nativeGroups(file, v)
	case "hosts":
		l.nativeHosts(file, "hosts", v, -1)
	default:
		l.errorf(file, k.Line, k.Column, k.Value, "unknown top-level key%s; an inventory has defaults, groups and hosts",
			didYouMean(k.Value, nativeTopKeys))
	}
}

// nativeGroups reads the groups mapping. Children are linked by name after
// the whole file is read, so a group may name children defined later.
func (l *loader) nativeGroups(file string, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(file, n.Line, n.Column, "groups", "want a mapping of group names, got %s", kindName(n))
		return
	}
	l.pairs(file, "groups", n, func(k, v *yaml.Node) { l.nativeGroupEntry(file, k, v) })
}

// nativeGroupEntry reads one group of the groups mapping; false when its
// name is refused (and nothing of it is read).
func (l *loader) nativeGroupEntry(file string, k, v *yaml.Node) bool {
	if !l.checkGroupName(file, k) {
		return false
	}
	g := l.group(k.Value, file, k.Line, k.Column)
	g.file, g.line, g.col, g.defined = file, k.Line, k.Column, true
	l.nativeGroup(file, l.groupIdx[k.Value], v)
	return true
}

func (l *loader) checkGroupName(file string, k *yaml.Node) bool {
	name := k.Value
	switch {
	case name == "all":
		l.errorf(file, k.Line, k.Column, "groups.all", `"all" is every host; put its settings under defaults`)
		return false
	case name == "" || strings.ContainsAny(name, " \t:,!&@*?[]/\\"):
		l.errorf(file, k.Line, k.Column, "groups", "group name %q: use letters, digits, '-', '_' and '.'", truncate(name, 80))
		return false
	}
	return true
}

var groupExtraKeys = map[string]bool{"children": true, "hosts": true}

func (l *loader) nativeGroup(file string, gi int32, v *yaml.Node) {
	g := l.groups[gi]
	prefix := "groups." + g.name
	if isNull(v) {
		return
	}
	extras := map[string]*yaml.Node{}
	l.addGroupVals(g, l.settings(file, prefix, "group "+g.name, v, func(k, v *yaml.Node) bool {
		if groupExtraKeys[k.Value] {
			extras[k.Value] = v
			return true
		}
		return false
	}))
	if c := extras["children"]; c != nil && !isNull(c) {
		l.nameList(file, prefix+".children", c, func(n *yaml.Node) {
			g.children = append(g.children, nameRef{name: n.Value, file: file, line: n.Line, col: n.Column})
		})
	}
	if h := extras["hosts"]; h != nil {
		l.nativeHosts(file, prefix+".hosts", h, gi)
	}
}

// nameList walks a list of names (or a mapping whose keys are names).
func (l *loader) nameList(file, key string, n *yaml.Node, fn func(*yaml.Node)) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, it := range n.Content {
			it = resolveAlias(it)
			if it.Kind != yaml.ScalarNode || isNull(it) || it.Value == "" {
				l.errorf(file, it.Line, it.Column, key, "want a name, got %s", kindName(it))
				continue
			}
			fn(it)
		}
	case yaml.MappingNode:
		l.pairs(file, key, n, func(k, v *yaml.Node) { fn(k) })
	case yaml.ScalarNode:
		if isNull(n) {
			return
		}
		fn(n)
	default:
		l.errorf(file, n.Line, n.Column, key, "want a list of names, got %s", kindName(n))
	}
}

// nativeHosts reads a hosts mapping (name → settings or null) or a list of
// names, into group gi (-1: top level).
func (l *loader) nativeHosts(file, prefix string, n *yaml.Node, gi int32) {
	switch n.Kind {
	case yaml.MappingNode:
		l.pairsOf(file, prefix, n, true, func(k, v *yaml.Node) { l.nativeHost(file, prefix, k, v, gi) })
	case yaml.SequenceNode:
		for _, it := range n.Content {
			it = resolveAlias(it)
			if it.Kind != yaml.ScalarNode || isNull(it) {
				l.errorf(file, it.Line, it.Column, prefix, "want a host name, got %s", kindName(it))
				continue
			}
			l.addHost(it.Value, gi, nil, file, it.Line, it.Column, prefix)
		}
	default:
		if isNull(n) {
			return
		}
		l.errorf(file, n.Line, n.Column, prefix, "want a mapping of host names, got %s", kindName(n))
	}
}

// nativeHost reads one entry of a hosts mapping: a name (or range) and its
// settings or null.
func (l *loader) nativeHost(file, prefix string, k, v *yaml.Node, gi int32) {
	var entry *hostEntry
	if !isNull(v) {
		entry = &hostEntry{vals: l.settings(file, join(prefix, k.Value), hostWhere(k.Value), v, nil)}
	}
	l.addHost(k.Value, gi, entry, file, k.Line, k.Column, prefix)
}

// hostLevel is the level of a value written for one host, whose name
// completes its Sources entry ("host h1") when a host is resolved: no
// label is kept per host.
const hostLevel = "host"

// hostWhere names the level of the settings written for the host name
// (or range) pattern: a range keeps its own label ("host web[1:3]").
func hostWhere(pattern string) string {
	if HasRange(pattern) {
		return "host " + pattern
	}
	return hostLevel
}

// settings reads a mapping of setting keys. extra, when not nil, claims
// keys that are not settings (a group's children and hosts).
func (l *loader) settings(file, prefix, where string, m *yaml.Node, extra func(k, v *yaml.Node) bool) []val {
	if m.Kind != yaml.MappingNode {
		l.errorf(file, m.Line, m.Column, prefix, "want a mapping of settings, got %s", kindName(m))
		return nil
	}
	vals := make([]val, 0, len(m.Content)/2)
	l.pairs(file, prefix, m, func(k, v *yaml.Node) {
		if extra != nil && extra(k, v) {
			return
		}
		if k.Value == "kickstart" {
			if isNull(v) {
				return
			}
			if v.Kind != yaml.MappingNode {
				l.errorf(file, v.Line, v.Column, join(prefix, "kickstart"), "want a mapping of kickstart options, got %s", kindName(v))
				return
			}
			l.pairs(file, join(prefix, "kickstart"), v, func(sk, sv *yaml.Node) {
				ki, ok := keyIndex["kickstart."+sk.Value]
				if !ok {
					l.errorf(file, sk.Line, sk.Column, join(prefix, "kickstart."+sk.Value), "unknown kickstart option%s",
						didYouMean(sk.Value, kickstartSubKeys))
					return
				}
				vals = l.addVal(vals, ki, sv, file, join(prefix, keyTable[ki].name), where)
			})
			return
		}
		ki, ok := keyIndex[k.Value]
		if !ok {
			cands := settingKeyNames
			if extra != nil {
				cands = append(append([]string{}, settingKeyNames...), "children", "hosts")
			}
			l.errorf(file, k.Line, k.Column, join(prefix, k.Value), "unknown key%s", didYouMean(k.Value, cands))
			return
		}
		vals = l.addVal(vals, ki, v, file, join(prefix, k.Value), where)
	})
	return vals
}

// addVal parses one setting and appends it, checking that the level does not
// set one slot twice (token and token_file, say).
func (l *loader) addVal(vals []val, ki int, n *yaml.Node, file, fullKey, where string) []val {
	n, ok := l.unvault(file, fullKey, n)
	if !ok {
		return vals
	}
	if isNull(n) {
		l.errorf(file, n.Line, n.Column, fullKey, "no value")
		return vals
	}
	v, ok := l.conv.parse(ki, n, file, fullKey, where)
	if !ok {
		return vals
	}
	for i := range vals {
		if vals[i].slot == v.slot {
			if vals[i].derived {
				if vals[i].n != v.n {
					l.errorf(file, n.Line, n.Column, fullKey, "port %d conflicts with the port %d in the address at line %d", v.n, vals[i].n, vals[i].line)
				} else {
					vals[i] = v
				}
				return vals
			}
			if vals[i].key == v.key {
				l.errorf(file, n.Line, n.Column, fullKey, "set twice at this level (first at line %d)", vals[i].line)
			} else {
				l.errorf(file, n.Line, n.Column, fullKey, "conflicts with %s at line %d: set only one of them", vals[i].keyName(), vals[i].line)
			}
			return vals
		}
	}
	if keyTable[ki].kind == kSecret && !l.vaulted[n] {
		l.warnf(file, n.Line, n.Column, fullKey, "inline secret: prefer %s_file or %s_env; it is redacted in every output",
			keyTable[ki].name, keyTable[ki].name)
	}
	vals = append(vals, v)
	// "address: host:port" also sets the port unless the level sets one.
	if v.slot == sAddress && v.n != 0 {
		pv := v
		pv.slot, pv.key, pv.s, pv.derived = sPort, int16(keyIndex["port"]), "", true
		for i := range vals {
			if vals[i].slot == sPort {
				if vals[i].n != v.n {
					l.errorf(file, n.Line, n.Column, fullKey, "port %d in the address conflicts with port %d at line %d", v.n, vals[i].n, vals[i].line)
				}
				return vals
			}
		}
		vals = append(vals, pv)
	}
	return vals
}
