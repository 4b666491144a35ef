package inventory

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// varsRank is added to the rank of group_vars/ and host_vars/ files: they
// beat every inventory source's own variables, as in Ansible.
const varsRank = 1 << 20

// maxDirDepth bounds the recursion into an inventory directory.
const maxDirDepth = 16

// inventoryIgnoredRE is what Ansible (2.14, INVENTORY_IGNORE_EXTS and
// IGNORED_ALWAYS in ansible/inventory/manager.py) skips in an inventory
// directory: hidden names, group_vars, host_vars, vars_plugins, and these
// extensions. Note that .ini and .cfg are skipped too.
var inventoryIgnoredRE = regexp.MustCompile(`^\.|^host_vars$|^group_vars$|^vars_plugins$|` +
	`(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$`)

// varsBase is a directory whose group_vars/ and host_vars/ apply: the
// directory of an inventory file, or an inventory directory itself.
type varsBase struct {
	abs   string // absolute path
	shown string // as the user named it, for diagnostics
}

// readSource reads one -i source.
func (l *loader) readSource(src string) {
	st, err := os.Stat(src)
	if err != nil {
		if strings.Contains(src, ",") {
			l.parseHostList(src)
			return
		}
		l.errs = append(l.errs, Diagnostic{File: src, Msg: "cannot read inventory: " + unwrapPathError(err).Error()})
		return
	}
	if st.IsDir() {
		l.readDir(src, 0)
		l.addVarsBase(src, true)
		return
	}
	l.readFile(src, st)
	l.addVarsBase(src, false)
}

// readFile reads one inventory file; an executable one is run as an
// inventory script unless the format is forced to another.
func (l *loader) readFile(path string, st os.FileInfo) {
	format := l.opts.Format
	if format == "" && st.Mode().IsRegular() && st.Mode()&0o111 != 0 && isProgram(path) {
		format = "script"
	}
	if format == "script" {
		l.beginFile(path)
		l.runScript(path)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		l.errs = append(l.errs, Diagnostic{File: path, Msg: "cannot read inventory: " + unwrapPathError(err).Error()})
		return
	}
	if l.opts.Format == "" && strings.HasPrefix(string(data), "#!") {
		l.errorf(path, 1, 1, "", "starts with #! like an inventory script, but is not executable (chmod +x it, or remove the #! line)")
		return
	}
	l.parseFile(path, data, l.opts.Format)
}

// isProgram reports an executable that the kernel can run: a #! script or
// an ELF binary. Ansible runs every executable inventory file and, when
// that fails, reads it as a file; an INI or YAML file with its execute bit
// set (copied from a FAT stick, checked out 0755) is read as a file here.
func isProgram(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // running it reports the error
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	return bytes.HasPrefix(head, []byte("#!")) || bytes.Equal(head, []byte("\x7fELF"))
}

// readDir reads every inventory file of an inventory directory, in name
// order, skipping what Ansible skips, into subdirectories too.
func (l *loader) readDir(dir string, depth int) {
	if depth > maxDirDepth {
		l.errorf(dir, 0, 0, "", "inventory directories nested too deep")
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.errs = append(l.errs, Diagnostic{File: dir, Msg: "cannot read inventory directory: " + unwrapPathError(err).Error()})
		return
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !inventoryIgnoredRE.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			l.errs = append(l.errs, Diagnostic{File: p, Msg: "cannot read inventory: " + unwrapPathError(err).Error()})
			continue
		}
		if st.IsDir() {
			l.readDir(p, depth+1)
			continue
		}
		l.readFile(p, st)
	}
}

// beginFile starts a new source file: a new rank, and relative paths in
// its values anchored at its directory.
func (l *loader) beginFile(path string) {
	l.rank++
	l.fileRank[path] = l.rank
	if abs, err := filepath.Abs(path); err == nil {
		l.conv.dir = filepath.Dir(abs)
	}
}

// addVarsBase records where group_vars/ and host_vars/ of a source are:
// beside a file, inside a directory.
func (l *loader) addVarsBase(src string, isDir bool) {
	shown := src
	if !isDir {
		shown = filepath.Dir(src)
	}
	abs, err := filepath.Abs(shown)
	if err != nil {
		return
	}
	if slices.ContainsFunc(l.varsBases, func(b varsBase) bool { return b.abs == abs }) {
		return
	}
	l.varsBases = append(l.varsBases, varsBase{abs: abs, shown: shown})
}

// addGroupVals adds the values of one level of a group: they replace the
// values an earlier source (a lower rank) gave the same slots.
func (l *loader) addGroupVals(g *groupRec, nv []val) {
	if len(nv) == 0 {
		return
	}
	rank := l.fileRank[nv[0].file]
	kept := g.vals[:0]
	for _, v := range g.vals {
		if l.fileRank[v.file] < rank && slices.ContainsFunc(nv, func(n val) bool { return n.slot == v.slot }) {
			continue
		}
		kept = append(kept, v)
	}
	g.vals = append(kept, nv...)
}

// parseHostList reads Ansible's host_list source: "h1,h2:2222,".
func (l *loader) parseHostList(src string) {
	l.beginFile(src)
	l.setFormat("host-list")
	ui := l.groupIdx[l.group("ungrouped", src, 0, 0).name]
	l.groups[ui].defined = true
	col := 1
	for part := range strings.SplitSeq(src, ",") {
		name := strings.TrimSpace(part)
		if name != "" {
			l.addHost(name, ui, nil, src, 0, col, "")
		}
		col += len(part) + 1
	}
}

// sortEntries orders a host's entries by rank, highest first, keeping the
// order of entries of one rank.
func sortEntries(es []*hostEntry) {
	desc := func(a, b *hostEntry) int { return b.rank - a.rank }
	if !slices.IsSortedFunc(es, desc) {
		slices.SortStableFunc(es, desc)
	}
}

// varsFilesFirst applies Ansible's precedence between the places group
// variables come from (ansible-core's VARIABLE_PRECEDENCE: all_inventory,
// groups_inventory, all_plugins_inventory, ...): a value from a group_vars/
// file, even of "all", beats any group's value from an inventory source.
// It keeps the candidate groups whose value for s comes from such a file,
// when there is one.
func (l *loader) varsFilesFirst(cands []int32, s slot) []int32 {
	fromFile := func(g int32) bool { return l.fileRank[l.groups[g].get(s).file] >= varsRank }
	if !slices.ContainsFunc(cands, fromFile) || !slices.ContainsFunc(cands, func(g int32) bool { return !fromFile(g) }) {
		return cands
	}
	return slices.DeleteFunc(slices.Clone(cands), func(g int32) bool { return !fromFile(g) })
}

// addUngrouped puts every host of no group in "ungrouped", as Ansible's
// reconcile_inventory does (a YAML inventory's hosts directly under all).
func (l *loader) addUngrouped() {
	var ui int32 = -1
	for _, h := range l.hosts {
		if len(h.direct) > 0 {
			continue
		}
		if ui < 0 {
			ui = l.groupIdx[l.defineGroup("ungrouped", l.groups[0].file, 0, 0).name]
		}
		h.direct = append(h.direct, ui)
		l.groups[ui].hosts = append(l.groups[ui].hosts, h.name)
	}
}
