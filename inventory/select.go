package inventory

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/fnv"
	"iter"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Select returns the hosts chosen by limit (Ansible's --limit grammar) and
// then by shard ("K/N": the K-th of N near-equal parts, 1 <= K <= N), in
// inventory order. An empty limit selects every host; an empty result is an
// error. Errors are an Errors value.
//
// limit is a list of terms separated by ',' (or ':' when no ',' is present):
// a host name, a group name, "all" or "*", a glob (web*, db-0?), "~regex",
// or "@file" (one host or group name per line, as in a retry file). A term
// prefixed with '&' intersects, with '!' excludes; the other terms are
// unioned first, whatever their order.
func (inv *Inventory) Select(limit, shard string) ([]*Host, error) {
	sel, err := inv.Choose(limit, shard)
	if err != nil {
		return nil, err
	}
	out := make([]*Host, sel.Len())
	for i := range out {
		out[i] = sel.Host(i)
	}
	return out, nil
}

// Selection is the hosts Choose chose, in inventory order; in a lazy
// inventory each is resolved only when reached.
type Selection struct {
	inv *Inventory
	idx []int32
}

// Len is the number of hosts selected.
func (s Selection) Len() int { return len(s.idx) }

// Host returns the i-th host selected (see Inventory.Host).
func (s Selection) Host(i int) *Host { return s.inv.Host(int(s.idx[i])) }

// All yields the hosts selected, each resolved as it is reached.
func (s Selection) All() iter.Seq[*Host] {
	return func(yield func(*Host) bool) {
		for _, i := range s.idx {
			if !yield(s.inv.Host(int(i))) {
				return
			}
		}
	}
}

// Choose is Select without resolving the hosts: the same hosts, the same
// errors.
func (inv *Inventory) Choose(limit, shard string) (Selection, error) {
	var errs Errors
	n := inv.Len()
	sel := make([]bool, n)
	if strings.TrimSpace(limit) == "" {
		for i := range sel {
			sel[i] = true
		}
	} else {
		inv.applyLimit(limit, sel, &errs)
	}
	k, parts := 0, 0
	if shard != "" {
		var err error
		k, parts, err = ParseShard(shard)
		if err != nil {
			errs = append(errs, Diagnostic{File: "--shard", Key: shard, Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		return Selection{}, errs
	}
	count := 0
	for _, ok := range sel {
		if ok {
			count++
		}
	}
	out := make([]int32, 0, count)
	for i, ok := range sel {
		if ok {
			out = append(out, int32(i))
		}
	}
	if parts > 0 {
		out = shardHosts(out, inv.hostName, k, parts)
	}
	if len(out) == 0 {
		what := "the inventory has no hosts"
		switch {
		case limit != "" && shard != "":
			what = fmt.Sprintf("--limit %q with --shard %s selects no host", limit, shard)
		case limit != "":
			what = fmt.Sprintf("--limit %q selects no host", limit)
		case shard != "":
			what = fmt.Sprintf("--shard %s selects no host: there are fewer hosts than shards", shard)
		}
		return Selection{}, Errors{{File: inv.Path, Msg: "empty selection: " + what}}
	}
	return Selection{inv: inv, idx: out}, nil
}

// ParseShard reads "K/N" with 1 <= K <= N.
func ParseShard(s string) (k, n int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		k, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || k < 1 || k > n || n > 1<<20 {
		return 0, 0, fmt.Errorf("want K/N with 1 <= K <= N (shard 1/4 is the first of four), got %q", truncate(s, 40))
	}
	return k, n, nil
}

// shardHash is the FNV-1a hash of a host name.
func shardHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// shardHosts keeps the k-th of n shards: hosts are ranked by the FNV-1a hash
// of their names (ties by name) and dealt round-robin, so the shards differ
// in size by at most one, cover the selection exactly once, and do not
// depend on the order of the inventory.
func shardHosts(hosts []int32, name func(int) string, k, n int) []int32 {
	type ranked struct {
		h   uint64
		idx int32
	}
	r := make([]ranked, len(hosts))
	for i, h := range hosts {
		r[i] = ranked{shardHash(name(int(h))), h}
	}
	slices.SortFunc(r, func(a, b ranked) int {
		if a.h != b.h {
			if a.h < b.h {
				return -1
			}
			return 1
		}
		return strings.Compare(name(int(a.idx)), name(int(b.idx)))
	})
	keep := make([]int32, 0, len(hosts)/n+1)
	for rank := k - 1; rank < len(r); rank += n {
		keep = append(keep, r[rank].idx)
	}
	slices.Sort(keep)
	return keep
}

type limitTerm struct {
	op   byte // 0 union, '&' intersection, '!' exclusion
	pat  string
	file string // for terms read from @file
	line int
}

func (inv *Inventory) splitLimit(limit string, errs *Errors) []limitTerm {
	var raw []string
	limit = strings.TrimSpace(limit)
	switch {
	case strings.Contains(limit, ","):
		raw = strings.Split(limit, ",")
	case inv.hostIndex(limit) >= 0:
		raw = []string{limit}
	default:
		raw = strings.Split(limit, ":")
	}
	var terms []limitTerm
	for _, t := range raw {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		var op byte
		if t[0] == '&' || t[0] == '!' {
			op, t = t[0], strings.TrimSpace(t[1:])
		}
		if t == "" {
			*errs = append(*errs, Diagnostic{File: "--limit", Key: limit, Msg: "empty pattern after & or !"})
			continue
		}
		if f, ok := strings.CutPrefix(t, "@"); ok {
			terms = append(terms, readLimitFile(f, op, errs)...)
			continue
		}
		terms = append(terms, limitTerm{op: op, pat: t})
	}
	return terms
}

func readLimitFile(name string, op byte, errs *Errors) []limitTerm {
	data, err := os.ReadFile(name)
	if err != nil {
		*errs = append(*errs, Diagnostic{File: name, Key: "--limit @" + name, Msg: fmt.Sprintf("cannot read: %v", unwrapPathError(err))})
		return nil
	}
	var out []limitTerm
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || t[0] == '#' {
			continue
		}
		out = append(out, limitTerm{op: op, pat: t, file: name, line: line})
	}
	if err := sc.Err(); err != nil {
		*errs = append(*errs, Diagnostic{File: name, Line: line + 1, Key: "--limit @" + name, Msg: err.Error()})
	}
	return out
}

func (inv *Inventory) hostIndex(name string) int {
	if inv.res != nil {
		if i, ok := inv.res.hostIdx[name]; ok {
			return int(i)
		}
		return -1
	}
	for i, h := range inv.Hosts {
		if h.Name == name {
			return i
		}
	}
	return -1
}

func (inv *Inventory) applyLimit(limit string, sel []bool, errs *Errors) {
	terms := inv.splitLimit(limit, errs)
	lm := inv.limitMatcher(errs)
	any := false
	for _, t := range terms {
		if t.op == 0 {
			any = true
			if m := lm.match(t); m != nil {
				for i, ok := range m {
					sel[i] = sel[i] || ok
				}
			}
		}
	}
	if !any {
		for i := range sel {
			sel[i] = true
		}
	}
	for _, t := range terms {
		if t.op == 0 {
			continue
		}
		m := lm.match(t)
		if m == nil {
			continue
		}
		for i := range sel {
			if t.op == '&' {
				sel[i] = sel[i] && m[i]
			} else {
				sel[i] = sel[i] && !m[i]
			}
		}
	}
}

// limitMatcher tells which hosts one --limit term matches: the hosts by
// name, the groups' members, the group names sorted.
type limitMatcher struct {
	inv        *Inventory
	n          int
	members    map[string][]int
	groupNames []string
	index      func(string) int // a host's position by name, -1 when none
	errs       *Errors
}

func (inv *Inventory) limitMatcher(errs *Errors) *limitMatcher {
	n := inv.Len()
	lm := &limitMatcher{inv: inv, n: n, members: make(map[string][]int, len(inv.Groups)), errs: errs, index: inv.hostIndex}
	for i := range n {
		for _, g := range inv.hostGroups(i) {
			lm.members[g] = append(lm.members[g], i)
		}
	}
	lm.groupNames = make([]string, 0, len(inv.Groups))
	for g := range inv.Groups {
		lm.groupNames = append(lm.groupNames, g)
	}
	slices.Sort(lm.groupNames)
	if inv.res == nil {
		byName := make(map[string]int, n)
		for i, h := range inv.Hosts {
			byName[h.Name] = i
		}
		lm.index = func(s string) int {
			if i, ok := byName[s]; ok {
				return i
			}
			return -1
		}
	}
	return lm
}

// match returns the hosts term t matches, nil (and an error recorded)
// when t is bad.
func (lm *limitMatcher) match(t limitTerm) []bool {
	m := make([]bool, lm.n)
	switch {
	case t.pat == "all" || t.pat == "*":
		for i := range m {
			m[i] = true
		}
	case strings.HasPrefix(t.pat, "~"):
		re, err := regexp.Compile(t.pat[1:])
		if err != nil {
			return lm.bad(t, "bad regular expression: %v", err)
		}
		lm.matchEach(m, re.MatchString)
	case strings.ContainsAny(t.pat, "*?[") && lm.inv.Groups[t.pat] == nil && lm.index(t.pat) < 0:
		if _, err := path.Match(t.pat, ""); err != nil {
			return lm.bad(t, "bad pattern: %v", err)
		}
		lm.matchEach(m, globMatcher(t.pat))
	default:
		if !lm.matchName(m, t.pat) {
			return lm.bad(t, "unknown host or group%s", didYouMean(t.pat, lm.candidates()))
		}
	}
	return m
}

// matchEach marks the hosts whose name matches, and the members of the
// groups whose name does.
func (lm *limitMatcher) matchEach(m []bool, matches func(string) bool) {
	for i := range m {
		if matches(lm.inv.hostName(i)) {
			m[i] = true
		}
	}
	for _, g := range lm.groupNames {
		if matches(g) {
			for _, i := range lm.members[g] {
				m[i] = true
			}
		}
	}
}

// matchName marks the group and the host named name; false when neither
// exists.
func (lm *limitMatcher) matchName(m []bool, name string) bool {
	found := false
	if _, ok := lm.inv.Groups[name]; ok {
		found = true
		for _, i := range lm.members[name] {
			m[i] = true
		}
	}
	if i := lm.index(name); i >= 0 {
		found = true
		m[i] = true
	}
	return found
}

// candidates are the names an unknown term may have meant: the groups,
// and the hosts too in an inventory of at most 10,000.
func (lm *limitMatcher) candidates() []string {
	if lm.n > 10000 {
		return lm.groupNames
	}
	cands := slices.Clone(lm.groupNames)
	for i := range lm.n {
		cands = append(cands, lm.inv.hostName(i))
	}
	return cands
}

func (lm *limitMatcher) bad(t limitTerm, format string, args ...any) []bool {
	d := Diagnostic{File: "--limit", Key: t.pat, Msg: fmt.Sprintf(format, args...)}
	if t.file != "" {
		d.File, d.Line = t.file, t.line
	}
	*lm.errs = append(*lm.errs, d)
	return nil
}

// globMatcher is path.Match(pat, name) as a function of name, pat known
// valid. A pattern of '*' and '?' alone matches ASCII names without '/'
// (every host name, as a rule) without path.Match's per-call work: about
// 5 times as fast over 100,000 hosts.
func globMatcher(pat string) func(string) bool {
	slow := func(name string) bool { ok, _ := path.Match(pat, name); return ok }
	if strings.ContainsAny(pat, "[\\/") || !isASCII(pat) {
		return slow
	}
	return func(name string) bool {
		if strings.IndexByte(name, '/') >= 0 || !isASCII(name) {
			return slow(name)
		}
		return starMatch(pat, name)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// starMatch matches ASCII name against pat of literal bytes, '?' (any one
// byte) and '*' (any run), backtracking to the last star only.
func starMatch(pat, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, n
			p++
		case p < len(pat) && (pat[p] == '?' || pat[p] == name[n]):
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}
