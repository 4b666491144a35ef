package inventory

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// A native inventory read one part at a time. yaml.v3 builds the node tree
// of a whole document before anything can be read from it: about 0.7 KB a
// host. Here the text is cut where its block mappings have their keys: at
// each top-level key, each group of groups:, and in batches of the hosts
// of every hosts: mapping. Each part is parsed on its own, with the file's
// own indentation (so columns are the file's) and its lines shifted to the
// file's, read as the whole tree would be, and dropped.
//
// Nothing is assumed about the text beyond where it is cut: a part must
// parse alone to the one key (or the batch of keys) expected at the line
// and column expected. Anything else (a part that does not parse alone, an
// alias of an anchor in another part, a tab or a line the cut does not
// know) undoes what the parts read and reads the whole tree instead, whose
// diagnostics are the ones reported. So are files with document markers,
// directives, CRs, NULs or a byte-order mark.

// nativeHostBatch is how many hosts of a hosts: mapping one part holds.
const nativeHostBatch = 256

// yamlLine is one line of a YAML text.
type yamlLine struct {
	off, end int // its bytes, without the line break
	next     int // where the next line starts
	num      int // 1-based
	indent   int // leading spaces
	// content: neither blank nor a comment.
	content bool
	// tab: a tab among the leading blanks, which the cut does not read.
	tab bool
}

func lineAt(data []byte, off, num int) yamlLine {
	ln := yamlLine{off: off, end: len(data), next: len(data), num: num}
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		ln.end, ln.next = off+i, off+i+1
	}
	i := off
	for i < ln.end && data[i] == ' ' {
		i++
	}
	ln.indent = i - off
	for j := i; j < ln.end && (data[j] == ' ' || data[j] == '\t'); j++ {
		if data[j] == '\t' {
			ln.tab = true
		}
	}
	ln.content = i < ln.end && data[i] != '#'
	return ln
}

// yamlPart is a run of whole lines: an entry of a block mapping, its key
// line first.
type yamlPart struct {
	off, end int // bytes [off, end): whole lines
	line     int // the first line's number
	key      string
	// rest is what follows the key's colon on its line, comment dropped.
	rest string
}

// plainKey reads the key of a line that starts a mapping entry at its
// indentation: a plain (non-indicator) or quoted scalar, then a colon
// followed by a blank or the end of the line. A quoted key is returned as
// written, quotes and all: only plain keys are compared.
func plainKey(line []byte) (key, rest string, ok bool) {
	i := 0
	switch {
	case len(line) == 0:
		return "", "", false
	case line[0] == '"' || line[0] == '\'':
		if i = quotedEnd(line); i < 0 {
			return "", "", false
		}
	case strings.IndexByte("-?:,[]{}#&*!|>%@`", line[0]) >= 0:
		return "", "", false
	}
	for ; i < len(line); i++ {
		switch {
		case line[i] == '#' && i > 0 && line[i-1] == ' ':
			return "", "", false
		case line[i] == ':' && (i+1 == len(line) || line[i+1] == ' '):
			rest := strings.TrimSpace(string(line[i+1:]))
			if strings.HasPrefix(rest, "#") {
				rest = ""
			}
			return strings.TrimRight(string(line[:i]), " "), rest, true
		}
	}
	return "", "", false
}

// quotedEnd is where the quoted scalar at the start of line ends (just
// after its closing quote), or -1 when it does not end on this line.
func quotedEnd(line []byte) int {
	q := line[0]
	for i := 1; i < len(line); i++ {
		switch {
		case q == '"' && line[i] == '\\':
			i++
		case line[i] == q && q == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++
		case line[i] == q:
			return i + 1
		}
	}
	return -1
}

// partReader cuts one native inventory file.
type partReader struct {
	l    *loader
	file string
	data []byte
}

// entries calls fn for each entry of the block mapping in [off, end) whose
// keys are indented ind: its key line and every line after it up to the
// next content line indented ind or less. False when a content line is
// indented less than ind, or one at ind is not a plain key, or fn returns
// false.
func (r *partReader) entries(off, end, num, ind int, fn func(p yamlPart) bool) bool {
	var cur *yamlPart
	for off < end {
		ln := lineAt(r.data, off, num)
		if ln.tab {
			return false
		}
		if ln.content && ln.indent <= ind {
			if ln.indent < ind {
				return false
			}
			key, rest, ok := plainKey(r.data[ln.off+ind : ln.end])
			if !ok {
				return false
			}
			if cur != nil {
				cur.end = off
				if !fn(*cur) {
					return false
				}
			}
			cur = &yamlPart{off: off, line: num, key: key, rest: rest}
		} else if cur == nil && ln.content {
			return false
		}
		off, num = ln.next, num+1
	}
	if cur == nil {
		return false
	}
	cur.end = end
	return fn(*cur)
}

// body is where the lines after p's key line start, their first number,
// and the indentation of the first content line among them (0: none).
func (r *partReader) body(p yamlPart) (off, num, ind int) {
	first := lineAt(r.data, p.off, p.line)
	off, num = first.next, p.line+1
	for o, n := off, num; o < p.end; n++ {
		ln := lineAt(r.data, o, n)
		if ln.content {
			return off, num, ln.indent
		}
		o = ln.next
	}
	return off, num, 0
}

// parse parses text, whose first line is the file's line first, into its
// top-level mapping with every line shifted to the file's; nil when it does
// not parse or is not a block mapping of want entries with the first key
// at (first, col).
func (r *partReader) parse(text []byte, first, col, want int) *yaml.Node {
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) != nil || len(doc.Content) != 1 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode || m.Style != 0 || len(m.Content) != 2*want || m.Anchor != "" {
		return nil
	}
	shiftLines(m, first-1)
	if k := m.Content[0]; k.Line != first || k.Column != col {
		return nil
	}
	return m
}

// shiftLines adds d to the line of every node of the tree n.
func shiftLines(n *yaml.Node, d int) {
	n.Line += d
	for _, c := range n.Content {
		shiftLines(c, d)
	}
}

// parseNativeParts reads a native inventory one part at a time; false,
// with nothing read, when it must be read whole.
func (l *loader) parseNativeParts(file string, data []byte) bool {
	ok, _ := l.readParts(file, data)
	return ok
}

// readParts is parseNativeParts, which also returns the loader's state
// from before the parts were read (for a caller that undoes them).
func (l *loader) readParts(file string, data []byte) (bool, loaderMark) {
	if l.opts.wholeYAML || !cuttable(data) {
		return false, loaderMark{}
	}
	mark := l.mark()
	r := &partReader{l: l, file: file, data: data}
	seen := map[string]int{}
	ok := r.entries(0, len(data), 1, 0, func(p yamlPart) bool { return r.top(p, seen) })
	if !ok {
		l.undo(mark)
	}
	return ok, mark
}

// cuttable tells a text the parts can be cut from: only characters yaml.v3
// reads (yamlText: it refuses the whole file otherwise, even for a byte in
// a comment, which the cut would skip), no document markers or directives,
// no CR, NUL or byte-order mark.
func cuttable(data []byte) bool {
	if !yamlText(data) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) || bytes.IndexByte(data, '\r') >= 0 || bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	for _, m := range []string{"---", "...", "%"} {
		if bytes.HasPrefix(data, []byte(m)) || bytes.Contains(data, []byte("\n"+m)) {
			return false
		}
	}
	return true
}

// yamlText reports whether data is UTF-8 of the characters yaml.v3 reads:
// tab, line feed, carriage return, the printable ASCII, U+0085, U+00A0 to
// U+D7FF, U+E000 to U+FFFD and U+10000 on (yaml.v3 v3.0.1 readerc.go:
// 367-379, "control characters are not allowed").
func yamlText(data []byte) bool {
	for i := 0; i < len(data); {
		if c := data[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return false
		case r == 0x85, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000:
		default:
			return false
		}
		i += n
	}
	return true
}

// top reads one top-level entry: groups and hosts mappings in parts, the
// rest whole.
func (r *partReader) top(p yamlPart, seen map[string]int) bool {
	off, num, ind := r.body(p)
	if (p.key == "groups" || p.key == "hosts") && p.rest == "" && ind > 0 {
		k := scalarNode(p.key, p.line, 1)
		if !r.l.checkKey(r.file, "", k, seen) {
			return true
		}
		if p.key == "hosts" {
			return r.hosts("hosts", -1, off, p.end, num, ind)
		}
		groups := map[string]int{}
		return r.entries(off, p.end, num, ind, func(g yamlPart) bool { return r.group(g, ind, groups) })
	}
	m := r.parse(r.data[p.off:p.end], p.line, 1, 1)
	if m == nil {
		return false
	}
	if k := m.Content[0]; r.l.checkKey(r.file, "", k, seen) {
		r.l.nativeTop(r.file, k, resolveAlias(m.Content[1]))
	}
	return true
}

// group reads one group of groups:, its hosts: mapping in batches.
func (r *partReader) group(g yamlPart, ind int, seen map[string]int) bool {
	hosts, hostsEnd, hnum, hind, ok := r.groupHosts(g)
	if !ok {
		return false
	}
	text := r.data[g.off:g.end]
	if hosts < hostsEnd {
		// The hosts are read after the group, as the whole tree reads
		// them: blank lines keep the lines after them where they are.
		blank := bytes.Count(r.data[hosts:hostsEnd], []byte("\n"))
		text = make([]byte, 0, hosts-g.off+blank+g.end-hostsEnd)
		text = append(text, r.data[g.off:hosts]...)
		text = append(text, bytes.Repeat([]byte("\n"), blank)...)
		text = append(text, r.data[hostsEnd:g.end]...)
	}
	m := r.parse(text, g.line, ind+1, 1)
	if m == nil {
		return false
	}
	k, v := m.Content[0], resolveAlias(m.Content[1])
	if !r.l.checkKey(r.file, "groups", k, seen) || !r.l.nativeGroupEntry(r.file, k, v) || hosts == hostsEnd {
		return true
	}
	return r.hosts("groups."+k.Value+".hosts", r.l.groupIdx[k.Value], hosts, hostsEnd, hnum, hind)
}

// groupHosts finds the block mapping under a group's one hosts: key:
// where its lines start and end, their first number and indentation;
// start == end when there is none to read apart. False when the group
// has a hosts: key the cut cannot place.
func (r *partReader) groupHosts(g yamlPart) (start, end, num, ind int, ok bool) {
	off, n, gind := r.body(g)
	if g.rest != "" || gind == 0 {
		return 0, 0, 0, 0, true
	}
	found := 0
	ok = r.entries(off, g.end, n, gind, func(p yamlPart) bool {
		if p.key != "hosts" {
			return true
		}
		found++
		if p.rest != "" {
			return true
		}
		if bo, bn, bi := r.body(p); bi > gind {
			start, end, num, ind = bo, p.end, bn, bi
		}
		return true
	})
	if !ok || found > 1 {
		// A group the cut cannot read is read whole (found > 1: a
		// duplicate key, reported by the whole group's reading).
		return 0, 0, 0, 0, ok
	}
	return start, end, num, ind, true
}

// hosts reads the hosts mapping in [off, end), keys indented ind, in
// batches.
func (r *partReader) hosts(prefix string, gi int32, off, end, num, ind int) bool {
	seen := map[string]int{}
	var batch []yamlPart
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		first, last := batch[0], batch[len(batch)-1]
		m := r.fastBatch(batch, ind)
		if m == nil {
			m = r.parse(r.data[first.off:last.end], first.line, ind+1, len(batch))
		}
		batch = batch[:0]
		if m == nil {
			return false
		}
		r.l.pairsSeen(r.file, prefix, m, true, seen, func(k, v *yaml.Node) { r.l.nativeHost(r.file, prefix, k, v, gi) })
		return true
	}
	ok := r.entries(off, end, num, ind, func(p yamlPart) bool {
		batch = append(batch, p)
		return len(batch) < nativeHostBatch || flush()
	})
	return ok && flush()
}

// fastBatch builds the mapping yaml.v3 builds of a batch of hosts whose
// entries are each one line of the simplest kind (see fastEntry), without
// yaml.v3: most of a large inventory's lines, and half its reading time.
// nil when one entry is of another kind: the batch is parsed.
func (r *partReader) fastBatch(batch []yamlPart, ind int) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: batch[0].line, Column: ind + 1}
	m.Content = make([]*yaml.Node, 0, 2*len(batch))
	for _, p := range batch {
		ln := lineAt(r.data, p.off, p.line)
		for o, n := ln.next, p.line+1; o < p.end; n++ {
			rest := lineAt(r.data, o, n)
			if rest.content || rest.tab {
				return nil
			}
			o = rest.next
		}
		k, v := fastEntry(r.data[ln.off:ln.end], p.line, ind)
		if k == nil {
			return nil
		}
		m.Content = append(m.Content, k, v)
	}
	return m
}

// fastEntry builds what yaml.v3 builds of one line "NAME:" or "NAME: {key:
// value, ...}" whose names, keys and values are plain words (fastWord),
// indented ind, at line num; nil for any other line.
func fastEntry(line []byte, num, ind int) (k, v *yaml.Node) {
	// A simple key's ":" must come within 1024 characters of its start
	// (yaml.v3 v3.0.1 scannerc.go:892-896): a longer line is left to yaml.v3,
	// which may refuse it.
	if len(line) > 1024 {
		return nil, nil
	}
	k, i := fastWord(line, ind, num)
	if k == nil || i >= len(line) || line[i] != ':' {
		return nil, nil
	}
	i++
	if blank(line[i:]) {
		return k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: num, Column: i + 1}
	}
	if line[i] != ' ' {
		return nil, nil
	}
	i = skipBlanks(line, i)
	if i >= len(line) || line[i] != '{' {
		return nil, nil
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle, Line: num, Column: i + 1}
	i = skipBlanks(line, i+1)
	for i < len(line) && line[i] != '}' {
		if len(m.Content) > 0 {
			if line[i] != ',' {
				return nil, nil
			}
			if i = skipBlanks(line, i+1); i < len(line) && line[i] == '}' {
				return nil, nil // a trailing comma: left to yaml.v3
			}
		}
		key, j := fastWord(line, i, num)
		if key == nil || j+1 >= len(line) || line[j] != ':' || line[j+1] != ' ' {
			return nil, nil
		}
		val, j := fastWord(line, skipBlanks(line, j+1), num)
		if val == nil {
			return nil, nil
		}
		m.Content = append(m.Content, key, val)
		i = skipBlanks(line, j)
	}
	if i >= len(line) || !blank(line[i+1:]) {
		return nil, nil
	}
	return k, m
}

func blank(b []byte) bool { return len(bytes.TrimLeft(b, " ")) == 0 }

func skipBlanks(line []byte, i int) int {
	for i < len(line) && line[i] == ' ' {
		i++
	}
	return i
}

// fastWord reads the plain scalar at line[i:] when it is a word whose
// yaml.v3 tag is sure: letters, digits and "_.-/" starting with a letter,
// '_' or '/' (a string, unless a word YAML gives another meaning); digits
// alone without a leading zero (an integer); digits and at least two dots
// (an IPv4 address: a string). nil for anything else.
func fastWord(line []byte, i, num int) (*yaml.Node, int) {
	start := i
	for i < len(line) && isWordByte(line[i]) {
		i++
	}
	w := string(line[start:i])
	if w == "" {
		return nil, i
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: w, Line: num, Column: start + 1}
	switch c := w[0]; {
	case c >= '0' && c <= '9':
		dots := strings.Count(w, ".")
		switch {
		case strings.Trim(w, "0123456789") == "" && len(w) <= 9 && (c != '0' || w == "0"):
			n.Tag = "!!int"
		case strings.Trim(w, "0123456789.") != "" || dots < 2 || strings.Contains(w, "..") || w[len(w)-1] == '.':
			return nil, i
		}
	case c == '_' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		switch strings.ToLower(w) {
		case "true", "false", "null", "yes", "no", "on", "off", "y", "n":
			return nil, i
		}
	default:
		return nil, i
	}
	return n, i
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/'
}

// loaderMark is what mark saves of a loader, for undo.
type loaderMark struct {
	errs, warns, rooms int
	groups             []groupRec
	hosts              []hostMark
}

type hostMark struct {
	direct  []int32
	entries []*hostEntry
}

// mark saves what reading a native file changes in the loader.
func (l *loader) mark() loaderMark {
	m := loaderMark{errs: len(l.errs), warns: len(l.warns), rooms: len(l.roomNames)}
	for _, g := range l.groups {
		c := *g
		c.vals = append([]val(nil), g.vals...)
		m.groups = append(m.groups, c)
	}
	for _, h := range l.hosts {
		m.hosts = append(m.hosts, hostMark{direct: h.direct, entries: h.entries})
	}
	return m
}

// undo restores the loader to what mark saved.
func (l *loader) undo(m loaderMark) {
	l.errs, l.warns, l.roomNames = l.errs[:m.errs], l.warns[:m.warns], l.roomNames[:m.rooms]
	for _, g := range l.groups[len(m.groups):] {
		delete(l.groupIdx, g.name)
	}
	clear(l.groups[len(m.groups):])
	l.groups = l.groups[:len(m.groups)]
	for i := range m.groups {
		*l.groups[i] = m.groups[i]
	}
	for _, h := range l.hosts[len(m.hosts):] {
		delete(l.hostIdx, h.name)
	}
	clear(l.hosts[len(m.hosts):])
	l.hosts = l.hosts[:len(m.hosts)]
	for i, hm := range m.hosts {
		l.hosts[i].direct, l.hosts[i].entries = hm.direct, hm.entries
	}
}
