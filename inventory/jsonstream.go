package inventory

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Inventory-script JSON read one part at a time. A whole yaml.v3 node tree
// of `ansible-inventory --list` costs about 1 KB per host while it is
// read; here each top-level group, and each host's _meta.hostvars entry,
// becomes a node tree of its own only when it is read, and is dropped
// after. The trees are the ones yaml.v3 builds for the same text (kinds,
// tags, values, lines and columns), so every diagnostic is the same.

// jsonSpan is where a value starts in the data.
type jsonSpan struct {
	off, line, col int
}

// jsonPart is one top-level key, or one host of _meta.hostvars.
type jsonPart struct {
	key      string
	kl, kc   int // the key's line and column
	val      jsonSpan
	hostvars []jsonHost // for "_meta": its hostvars, in order
	meta     bool
	// hasHostvars: _meta has a hostvars object.
	hasHostvars bool
}

// jsonHost is one host of _meta.hostvars: 32 bytes a host until it is
// read, its name read again from the text then.
type jsonHost struct {
	koff, off   int // where its key and value start
	kl, kc      int32
	vline, vcol int32
}

func (h jsonHost) span() jsonSpan { return jsonSpan{h.off, int(h.vline), int(h.vcol)} }

// key reads the host's name again.
func (h jsonHost) key(data []byte) string {
	return newJSONScanner(data, jsonSpan{h.koff, int(h.kl), int(h.kc)}).str()
}

// jsonScanner walks JSON that encoding/json has already found valid.
type jsonScanner struct {
	data      []byte
	off       int
	line, col int
	// odd is set by anything the part-wise reading does not handle the
	// way yaml.v3 does: the caller reads the whole tree instead.
	odd bool
	// keyOff is where the key object last read starts.
	keyOff int
}

func newJSONScanner(data []byte, at jsonSpan) *jsonScanner {
	return &jsonScanner{data: data, off: at.off, line: at.line, col: at.col}
}

func (s *jsonScanner) advance(n int) {
	for range n {
		c := s.data[s.off]
		s.off++
		switch {
		case c == '\n':
			s.line, s.col = s.line+1, 1
		case c < utf8.RuneSelf || utf8.RuneStart(c):
			s.col++
		}
	}
}

func (s *jsonScanner) ws() {
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case ' ', '\n':
			s.advance(1)
		case '\r':
			// yaml.v3 takes a lone CR for a line break.
			if s.off+1 >= len(s.data) || s.data[s.off+1] != '\n' {
				s.odd = true
			}
			s.advance(1)
		case '\t':
			// yaml.v3 refuses tabs; the whole-tree reading re-indents.
			s.odd = true
			s.advance(1)
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	s.ws()
	if s.off >= len(s.data) {
		s.odd = true
		return 0
	}
	return s.data[s.off]
}

func (s *jsonScanner) span() jsonSpan { return jsonSpan{s.off, s.line, s.col} }

// str reads a string token; escapes are decoded by encoding/json.
func (s *jsonScanner) str() string {
	start := s.off
	i := s.off + 1
	escaped := false
	for i < len(s.data) && s.data[i] != '"' {
		if s.data[i] == '\\' {
			escaped = true
			i++
			// yaml.v3 refuses \/ and surrogate pairs: read whole, so
			// that its error is the one reported.
			if i < len(s.data) && (s.data[i] == '/' || s.data[i] == 'u' && i+1 < len(s.data) && (s.data[i+1]|0x20) == 'd') {
				s.odd = true
			}
		}
		i++
	}
	if i >= len(s.data) {
		s.odd = true
		s.off = len(s.data)
		return ""
	}
	raw := s.data[start : i+1]
	s.advance(i + 1 - start)
	if !escaped {
		return string(raw[1 : len(raw)-1])
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		s.odd = true
	}
	return v
}

// skip passes over one value.
func (s *jsonScanner) skip() {
	switch s.peek() {
	case 0:
	case '"':
		s.str()
	case '{', '[':
		depth := 0
		for s.off < len(s.data) {
			switch s.data[s.off] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.advance(1)
			if depth == 0 {
				return
			}
		}
		s.odd = true
	default:
		for s.off < len(s.data) && !isJSONDelim(s.data[s.off]) {
			s.advance(1)
		}
	}
}

func isJSONDelim(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\n', '\r', '\t', ':':
		return true
	}
	return false
}

// object calls fn for each key of the object at the scanner, with the key
// read and the scanner on its value; fn must read or skip the value.
func (s *jsonScanner) object(fn func(key string, kl, kc int)) {
	if s.peek() != '{' {
		s.odd = true
		return
	}
	s.advance(1)
	for !s.odd {
		c := s.peek()
		if c == '}' {
			s.advance(1)
			return
		}
		if c == ',' {
			s.advance(1)
			c = s.peek()
		}
		if c != '"' {
			s.odd = true
			return
		}
		kl, kc := s.line, s.col
		s.keyOff = s.off
		k := s.str()
		if s.peek() != ':' {
			s.odd = true
			return
		}
		s.advance(1)
		s.ws()
		fn(k, kl, kc)
	}
}

// jsonParts lists the top-level keys of data with where their values
// start, and the hosts of _meta.hostvars; ok is false where the JSON is
// of a shape better read whole, whose diagnostics come from there (not an
// object, a duplicate key, _meta or hostvars not an object, a NUL in a
// key, what yaml.v3 refuses).
func jsonParts(data []byte) ([]jsonPart, bool) {
	s := newJSONScanner(data, jsonSpan{0, 1, 1})
	var parts []jsonPart
	seen := map[string]bool{}
	s.object(func(k string, kl, kc int) {
		if seen[k] || strings.IndexByte(k, 0) >= 0 {
			s.odd = true
		}
		seen[k] = true
		p := jsonPart{key: k, kl: kl, kc: kc, val: s.span()}
		if k == "_meta" {
			p.meta = true
			p.hostvars, p.hasHostvars = s.metaHostvars()
		} else {
			s.skip()
		}
		parts = append(parts, p)
	})
	if s.ws(); s.off != len(data) {
		s.odd = true
	}
	return parts, !s.odd
}

func (s *jsonScanner) metaHostvars() ([]jsonHost, bool) {
	if s.peek() == 'n' {
		s.skip()
		return nil, false
	}
	var hosts []jsonHost
	found := false
	metaSeen := map[string]bool{}
	s.object(func(k string, _, _ int) {
		if metaSeen[k] {
			s.odd = true
		}
		metaSeen[k] = true
		if k != "hostvars" {
			s.skip()
			return
		}
		found = true
		hostSeen := map[string]struct{}{}
		s.object(func(h string, hl, hc int) {
			if _, dup := hostSeen[h]; dup || strings.IndexByte(h, 0) >= 0 {
				s.odd = true
			}
			hostSeen[h] = struct{}{}
			hosts = append(hosts, jsonHost{koff: s.keyOff, kl: int32(hl), kc: int32(hc), off: s.off, vline: int32(s.line), vcol: int32(s.col)})
			s.skip()
		})
	})
	return hosts, found
}

// node builds the yaml.v3 node tree of the value at the scanner.
func (s *jsonScanner) node() *yaml.Node {
	c := s.peek()
	n := &yaml.Node{Line: s.line, Column: s.col}
	switch c {
	case '{':
		n.Kind, n.Tag, n.Style = yaml.MappingNode, "!!map", yaml.FlowStyle
		s.object(func(k string, kl, kc int) {
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: k, Line: kl, Column: kc}
			n.Content = append(n.Content, key, s.node())
		})
	case '[':
		n.Kind, n.Tag, n.Style = yaml.SequenceNode, "!!seq", yaml.FlowStyle
		s.advance(1)
		for !s.odd {
			c := s.peek()
			if c == ']' {
				s.advance(1)
				break
			}
			if c == ',' {
				s.advance(1)
			}
			n.Content = append(n.Content, s.node())
		}
	case '"':
		n.Kind, n.Tag, n.Style = yaml.ScalarNode, "!!str", yaml.DoubleQuotedStyle
		n.Value = s.str()
	default:
		start := s.off
		for s.off < len(s.data) && !isJSONDelim(s.data[s.off]) {
			s.advance(1)
		}
		n.Kind, n.Value = yaml.ScalarNode, string(s.data[start:s.off])
		switch n.Value {
		case "true", "false":
			n.Tag = "!!bool"
		case "null":
			n.Tag = "!!null"
		default:
			n.Tag = "!!int"
			for _, b := range []byte(n.Value) {
				if b == '.' || b == 'e' || b == 'E' {
					n.Tag = "!!float"
				}
			}
		}
	}
	return n
}

// jsonSource is inventory-script JSON cut into its parts: the text, whose
// holder lets go of it once the groups are read, and the hostvars.
type jsonSource struct {
	data  []byte
	parts []jsonPart
	// hostvars is the text of every host of _meta.hostvars, packed (see
	// packHostvars): what the hostvars need of the text once the groups are
	// read, let go of a chunk at a time as they are.
	hostvars    [][]byte
	hasHostvars bool
}

// cutJSON cuts data into its parts; nil when it is better read whole,
// before anything was read.
func cutJSON(data []byte) *jsonSource {
	if bytes.IndexByte(data, '\t') >= 0 || checkJSON(data) != nil {
		return nil
	}
	parts, ok := jsonParts(data)
	if !ok {
		return nil
	}
	src := &jsonSource{data: data, parts: parts}
	for i, p := range parts {
		if p.meta {
			src.hostvars, src.hasHostvars = packHostvars(data, p.hostvars), p.hasHostvars
			parts[i].hostvars = nil
		}
	}
	return src
}

// hostvarsChunk is about how many bytes of packed hostvars one chunk
// holds.
const hostvarsChunk = 64 << 10

// packHostvars copies the text of each host of _meta.hostvars (its key,
// colon and value) after its positions, as varints, in chunks: about what
// the text of the hostvars takes, and none of the rest of the file.
func packHostvars(data []byte, hosts []jsonHost) [][]byte {
	var out [][]byte
	var cur []byte
	for _, h := range hosts {
		s := newJSONScanner(data, h.span())
		s.skip()
		text := data[h.koff:s.off]
		if len(cur) > 0 && len(cur)+len(text) > hostvarsChunk {
			out, cur = append(out, cur), nil
		}
		for _, n := range []int{int(h.kl), int(h.kc), int(h.vline), int(h.vcol), h.off - h.koff, len(text)} {
			cur = binary.AppendUvarint(cur, uint64(n))
		}
		cur = append(cur, text...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// eachHostvar calls fn with each packed host's key and value, read again
// from their text with their positions, and lets go of each chunk once
// read.
func eachHostvar(chunks [][]byte, fn func(key string, kl, kc int, value *jsonScanner)) {
	for c, packed := range chunks {
		chunks[c] = nil
		for len(packed) > 0 {
			var n [6]int
			for i := range n {
				v, w := binary.Uvarint(packed)
				n[i], packed = int(v), packed[w:]
			}
			text := packed[:n[5]]
			packed = packed[n[5]:]
			key := newJSONScanner(text, jsonSpan{0, n[0], n[1]}).str()
			fn(key, n[0], n[1], newJSONScanner(text, jsonSpan{n[4], n[2], n[3]}))
		}
	}
}

// parseAnsibleJSONParts is parseAnsibleJSON one part at a time. It lets
// go of the source's text once the groups are read: src must be the only
// holder of it by then (the callers' own data is not used after).
func (l *loader) parseAnsibleJSONParts(file string, src *jsonSource, hostVars hostVarsFunc) {
	var order []string
	seen := newNamedHosts(l)
	note := func(h string) {
		if seen.add(h) && hostVars != nil {
			order = append(order, h)
		}
	}
	for _, p := range src.parts {
		if p.meta {
			continue
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: p.key, Line: p.kl, Column: p.kc}
		l.jsonGroup(file, k, newJSONScanner(src.data, p.val).node(), note)
	}
	src.data, src.parts = nil, nil
	eachHostvar(src.hostvars, func(name string, kl, kc int, value *jsonScanner) {
		if !seen.has(name) {
			return
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: name, Line: kl, Column: kc}
		l.jsonHostVars(file, "_meta.hostvars."+name, k, value.node())
	})
	if !src.hasHostvars && hostVars != nil {
		l.scriptHostVars(order, hostVars)
	}
}

// namedHosts are the host names the groups of one JSON named: a bit per
// host of the loader, and a set of the other names (those addHost
// refused or expanded).
type namedHosts struct {
	l     *loader
	bits  []uint64
	other map[string]struct{}
}

func newNamedHosts(l *loader) *namedHosts { return &namedHosts{l: l, other: map[string]struct{}{}} }

// add records name; false when it was already.
func (s *namedHosts) add(name string) bool {
	i, ok := s.l.hostIdx[name]
	if !ok {
		if _, dup := s.other[name]; dup {
			return false
		}
		s.other[name] = struct{}{}
		return true
	}
	w := int(i) / 64
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w+1-len(s.bits))...)
	}
	if s.bits[w]&(1<<(i%64)) != 0 {
		return false
	}
	s.bits[w] |= 1 << (i % 64)
	return true
}

func (s *namedHosts) has(name string) bool {
	if i, ok := s.l.hostIdx[name]; ok {
		w := int(i) / 64
		return w < len(s.bits) && s.bits[w]&(1<<(i%64)) != 0
	}
	_, ok := s.other[name]
	return ok
}
