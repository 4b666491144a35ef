package inventory

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ansibleKeyRE finds a YAML key that Ansible groups have.
var ansibleKeyRE = regexp.MustCompile(`(?m)^[ \t]+(hosts|children|vars):`)

// looksLikeAnsibleYAML reports a YAML inventory whose groups have hosts,
// children or vars.
func looksLikeAnsibleYAML(data []byte) bool {
	return ansibleKeyRE.Match(data)
}

// parseFlowValue parses a YAML flow value ("[a, b]") from the command line or
// an INI file.
func (l *loader) parseFlowValue(s string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// ansibleVar is one Ansible variable as written.
type ansibleVar struct {
	name string
	key  *yaml.Node // for its position
	val  *yaml.Node
}

// ansibleDirect maps Ansible connection variables to setting keys.
var ansibleDirect = map[string]string{
	"ansible_host":                 "address",
	"ansible_ssh_host":             "address",
	"ansible_port":                 "port",
	"ansible_ssh_port":             "port",
	"ansible_user":                 "user",
	"ansible_ssh_user":             "user",
	"ansible_ssh_private_key_file": "identity_files",
	"ansible_private_key_file":     "identity_files",
	"ansible_ssh_timeout":          "connect_timeout",
	"ansible_timeout":              "connect_timeout",
	"ansible_become_user":          "become_user",
	"ansible_become_password":      "sudo_password",
	"ansible_become_pass":          "sudo_password",
	"ansible_sudo_pass":            "sudo_password",
}

const claimPrefix = "netdata_claim_"

// claimVarNames are the netdata_claim_* variables, for suggestions.
var claimVarNames = func() []string {
	var out []string
	for _, k := range keyTable {
		out = append(out, claimPrefix+strings.ReplaceAll(k.name, ".", "_"))
	}
	return append(out, claimPrefix+"kickstart")
}()

// ansibleVars turns the variables of one level into settings. Variables
// fleetclaim does not use are ignored; netdata_claim_* ones must be known.
func (l *loader) ansibleVars(file, prefix, where string, vars []ansibleVar, g *groupRec) []val {
	var vals []val // most levels set one or two: no spare capacity per host
	var become, becomeMethod *ansibleVar
	for i := range vars {
		av := &vars[i]
		name, n := av.name, av.val
		full := join(prefix, name)
		if g != nil && name == "ansible_group_priority" {
			p, err := strconv.Atoi(strings.TrimSpace(n.Value))
			if err != nil || n.Kind != yaml.ScalarNode {
				l.errorf(file, n.Line, n.Column, full, "want an integer")
				continue
			}
			g.priority = p
			continue
		}
		switch name {
		case "ansible_become":
			become = av
			continue
		case "ansible_become_method":
			becomeMethod = av
			continue
		case "ansible_ssh_common_args", "ansible_ssh_extra_args":
			vals = l.sshArgs(vals, file, full, where, n)
			continue
		}
		key, mapped := ansibleDirect[name]
		if !mapped {
			rest, ok := strings.CutPrefix(name, claimPrefix)
			if !ok {
				continue
			}
			if rest == "kickstart" {
				if n.Kind != yaml.MappingNode {
					l.errorf(file, n.Line, n.Column, full, "want a mapping of kickstart options, got %s", kindName(n))
					continue
				}
				l.pairs(file, full, n, func(sk, sv *yaml.Node) {
					ki, ok := keyIndex["kickstart."+sk.Value]
					if !ok {
						l.errorf(file, sk.Line, sk.Column, join(full, sk.Value), "unknown kickstart option%s", didYouMean(sk.Value, kickstartSubKeys))
						return
					}
					vals = l.addVal(vals, ki, sv, file, join(full, sk.Value), where)
				})
				continue
			}
			if sub, ok := strings.CutPrefix(rest, "kickstart_"); ok {
				rest = "kickstart." + sub
			}
			if _, ok := keyIndex[rest]; !ok {
				l.errorf(file, av.key.Line, av.key.Column, full, "unknown fleetclaim variable%s", didYouMean(name, claimVarNames))
				continue
			}
			key = rest
		}
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "{{") {
			l.errorf(file, n.Line, n.Column, full, "Jinja2 templates are not evaluated by fleetclaim; write the value itself")
			continue
		}
		vals = l.addVal(vals, keyIndex[key], n, file, full, where)
	}
	if become != nil {
		on, ok := parseBool(become.val.Value)
		if become.val.Kind != yaml.ScalarNode || !ok {
			l.errorf(file, become.val.Line, become.val.Column, join(prefix, "ansible_become"), "want true or false")
		} else {
			method := "none"
			n := become.val
			if on {
				method = "sudo"
				if becomeMethod != nil {
					method = strings.ToLower(strings.TrimSpace(becomeMethod.val.Value))
					n = becomeMethod.val
				}
			}
			vals = l.addVal(vals, keyIndex["become"], scalarNode(method, n.Line, n.Column), file, join(prefix, "ansible_become"), where)
		}
	}
	return vals
}

// sshArgs reads the options of ansible_ssh_common_args that fleetclaim
// honours: -J / -o ProxyJump=, ProxyCommand with -W, StrictHostKeyChecking,
// UserKnownHostsFile, ConnectTimeout, ServerAliveInterval.
func (l *loader) sshArgs(vals []val, file, full, where string, n *yaml.Node) []val {
	if n.Kind != yaml.ScalarNode {
		l.errorf(file, n.Line, n.Column, full, "want a string, got %s", kindName(n))
		return vals
	}
	args, err := shellSplit(n.Value)
	if err != nil {
		l.errorf(file, n.Line, n.Column, full, "%v", err)
		return vals
	}
	set := func(key, value string) {
		vals = l.addVal(vals, keyIndex[key], scalarNode(value, n.Line, n.Column), file, full+" ("+key+")", where)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, bool) {
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			l.errorf(file, n.Line, n.Column, full, "%s needs a value", a)
			return "", false
		}
		switch {
		case a == "-J":
			if v, ok := next(); ok {
				set("jump", v)
			}
		case strings.HasPrefix(a, "-J"):
			set("jump", a[2:])
		case a == "-o" || strings.HasPrefix(a, "-o"):
			opt := a[2:]
			if opt == "" {
				v, ok := next()
				if !ok {
					continue
				}
				opt = v
			}
			k, v, ok := strings.Cut(opt, "=")
			if !ok {
				k, v, _ = strings.Cut(strings.TrimSpace(opt), " ")
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "proxyjump":
				set("jump", v)
			case "proxycommand":
				if hop := proxyCommandHop(v); hop != "" {
					set("jump", hop)
				} else {
					set("proxy_command", v)
				}
			case "stricthostkeychecking":
				p := "strict"
				switch strings.ToLower(v) {
				case "accept-new":
					p = "accept-new"
				case "no", "off", "false":
					// Only host_key_policy: off turns checking off.
					p = "accept-new"
					l.warnf(file, n.Line, n.Column, full+" StrictHostKeyChecking",
						"StrictHostKeyChecking=%s is taken as accept-new: unknown host keys are recorded, changed ones refused; only host_key_policy: off turns checking off", v)
				}
				set("host_key_policy", p)
			case "userknownhostsfile":
				set("known_hosts", v)
			case "connecttimeout":
				set("connect_timeout", v)
			case "serveraliveinterval":
				set("server_alive_interval", v)
			}
		}
	}
	return vals
}

// proxyCommandHop reads "ssh [-p N] [-l user] -W %h:%p [user@]host".
func proxyCommandHop(cmd string) string {
	args, err := shellSplit(cmd)
	if err != nil || len(args) < 2 || filepath.Base(args[0]) != "ssh" || !slices.Contains(args, "-W") {
		return ""
	}
	host, port, user := "", "", ""
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "-W", "-i", "-F", "-o":
			i++
		case "-p":
			if i+1 < len(args) {
				port = args[i+1]
			}
			i++
		case "-l":
			if i+1 < len(args) {
				user = args[i+1]
			}
			i++
		default:
			if !strings.HasPrefix(a, "-") {
				host = a
			}
		}
	}
	if host == "" {
		return ""
	}
	if user != "" && !strings.Contains(host, "@") {
		host = user + "@" + host
	}
	if port != "" {
		host += ":" + port
	}
	return host
}

// shellSplit splits a command line as a POSIX shell would, quotes included.
func shellSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errorString("unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errorString("unterminated \" quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// mappingVars lists a vars mapping's entries.
func (l *loader) mappingVars(file, prefix string, n *yaml.Node) []ansibleVar {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(file, n.Line, n.Column, prefix, "want a mapping of variables, got %s", kindName(n))
		return nil
	}
	vars := make([]ansibleVar, 0, len(n.Content)/2)
	l.pairs(file, prefix, n, func(k, v *yaml.Node) {
		vars = append(vars, ansibleVar{name: k.Value, key: k, val: v})
	})
	return vars
}

var ansibleGroupKeys = []string{"hosts", "vars", "children"}

// parseAnsibleYAML reads an Ansible YAML inventory: top-level groups (all,
// usually), each with hosts, vars and children.
func (l *loader) parseAnsibleYAML(file string, data []byte) {
	root := l.parseRoot(file, data, "an Ansible YAML inventory is a mapping of groups")
	if root == nil {
		return
	}
	l.pairs(file, "", root, func(k, v *yaml.Node) {
		l.ansibleYAMLGroup(file, k.Value, k, v, 0)
	})
}

func (l *loader) ansibleYAMLGroup(file, name string, k, v *yaml.Node, depth int) int32 {
	if depth > 100 {
		l.errorf(file, k.Line, k.Column, name, "groups nested too deep")
		return -1
	}
	if name == "" || strings.ContainsAny(name, " \t:,!&@*?[]") {
		l.errorf(file, k.Line, k.Column, name, "group name %q: use letters, digits, '-', '_' and '.'", truncate(name, 80))
		return -1
	}
	g := l.group(name, file, k.Line, k.Column)
	if !g.defined {
		g.file, g.line, g.col, g.defined = file, k.Line, k.Column, true
	}
	gi := l.groupIdx[name]
	if isNull(v) {
		return gi
	}
	if v.Kind != yaml.MappingNode {
		l.errorf(file, v.Line, v.Column, name, "want a group (hosts, vars, children), got %s", kindName(v))
		return gi
	}
	l.pairs(file, name, v, func(kk, vv *yaml.Node) {
		switch kk.Value {
		case "vars":
			l.addGroupVals(g, l.ansibleVars(file, name+".vars", groupWhere(name), l.mappingVars(file, name+".vars", vv), g))
			l.checkLevel(file, name+".vars", g.vals)
		case "hosts":
			if isNull(vv) {
				return
			}
			if vv.Kind != yaml.MappingNode {
				l.errorf(file, vv.Line, vv.Column, name+".hosts", "want a mapping of host names, got %s", kindName(vv))
				return
			}
			l.pairs(file, name+".hosts", vv, func(hk, hv *yaml.Node) {
				var entry *hostEntry
				if !isNull(hv) {
					prefix := name + ".hosts." + hk.Value
					entry = &hostEntry{vals: l.ansibleVars(file, prefix, hostWhere(hk.Value), l.mappingVars(file, prefix, hv), nil)}
				}
				l.addHost(hk.Value, gi, entry, file, hk.Line, hk.Column, name+".hosts")
			})
		case "children":
			if isNull(vv) {
				return
			}
			if vv.Kind != yaml.MappingNode {
				l.errorf(file, vv.Line, vv.Column, name+".children", "want a mapping of groups, got %s", kindName(vv))
				return
			}
			l.pairs(file, name+".children", vv, func(ck, cv *yaml.Node) {
				if l.ansibleYAMLGroup(file, ck.Value, ck, cv, depth+1) >= 0 {
					g.children = append(g.children, nameRef{name: ck.Value, file: file, line: ck.Line, col: ck.Column})
				}
			})
		default:
			l.errorf(file, kk.Line, kk.Column, join(name, kk.Value), "unknown group key%s; a group has hosts, vars and children",
				didYouMean(kk.Value, ansibleGroupKeys))
		}
	})
	return gi
}

func groupWhere(name string) string {
	if name == "all" {
		return "all"
	}
	return "group " + name
}

// checkLevel reports a slot set twice at one level (two definitions of
// one group's vars, say).
func (l *loader) checkLevel(file, prefix string, vals []val) {
	for i := range vals {
		for j := 0; j < i; j++ {
			if vals[i].slot == vals[j].slot && !sameValue(&vals[i], &vals[j]) && !vals[i].derived && !vals[j].derived {
				l.errorf(vals[i].file, int(vals[i].line), int(vals[i].col), prefix, "%s set again to a different value (first at %s)",
					slotNames[vals[i].slot], vals[j].source())
			}
		}
	}
}

// parseAnsibleINI reads an Ansible INI inventory with fleetclaim's own
// parser, which keeps the line and column of every host, group and value.
func (l *loader) parseAnsibleINI(file string, data []byte) {
	p := &iniParse{l: l, file: file, cur: iniSection{gi: -1, kind: "hosts"}, groupVars: map[int32][]ansibleVar{}}
	lineNo := 0
	text := string(data)
	for len(text) > 0 {
		lineNo++
		raw, rest, _ := strings.Cut(text, "\n")
		text = rest
		raw = strings.TrimRight(raw, "\r")
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		indent := strings.Index(raw, line) + 1
		switch {
		case line[0] == '[':
			p.cur = p.header(line, lineNo, indent)
		case p.cur.gi == -2:
			// Inside a bad section: already reported.
		case p.cur.kind == "vars":
			p.varsLine(line, lineNo, indent)
		case p.cur.kind == "children":
			p.childLine(line, lineNo, indent)
		default:
			p.hostLine(line, lineNo, indent)
		}
	}
	for _, gi := range p.order {
		g := l.groups[gi]
		l.addGroupVals(g, l.ansibleVars(file, g.name+":vars", groupWhere(g.name), p.groupVars[gi], g))
		l.checkLevel(file, g.name+":vars", g.vals)
	}
}

// iniParse is parseAnsibleINI's state: the section being read and the
// group variables, applied once the file is read.
type iniParse struct {
	l         *loader
	file      string
	cur       iniSection
	groupVars map[int32][]ansibleVar
	order     []int32 // the groups of groupVars, in the order first seen
}

// iniSection is where a line of an INI inventory is: a group's (gi; -1:
// none yet, -2: a bad header, already reported) hosts, vars or children.
type iniSection struct {
	gi   int32
	kind string // "hosts", "vars", "children"
}

// header reads a section header: [group], [group:vars], [group:children].
func (p *iniParse) header(line string, lineNo, indent int) iniSection {
	l, file := p.l, p.file
	end := strings.IndexByte(line, ']')
	if end < 0 || strings.TrimSpace(stripComment(line[end+1:])) != "" {
		l.errorf(file, lineNo, indent, "", "bad section header %q", truncate(line, 80))
		return iniSection{gi: -2}
	}
	name, kind, _ := strings.Cut(line[1:end], ":")
	name = strings.TrimSpace(name)
	switch kind {
	case "":
		kind = "hosts"
	case "vars", "children":
	default:
		l.errorf(file, lineNo, indent, name, "unknown section kind %q%s; want [group], [group:vars] or [group:children]",
			kind, didYouMean(kind, []string{"vars", "children"}))
		return iniSection{gi: -2}
	}
	if name == "" || strings.ContainsAny(name, " \t,!&@*?[]") {
		l.errorf(file, lineNo, indent+1, name, "bad group name %q", truncate(name, 80))
		return iniSection{gi: -2}
	}
	g := l.group(name, file, lineNo, indent+1)
	if !g.defined {
		g.file, g.line, g.col, g.defined = file, lineNo, indent+1, true
	}
	return iniSection{gi: l.groupIdx[name], kind: kind}
}

// varsLine reads key=value in a [group:vars] section.
func (p *iniParse) varsLine(line string, lineNo, indent int) {
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		p.l.errorf(p.file, lineNo, indent, "", "want key=value in a :vars section, got %q", truncate(line, 80))
		return
	}
	k = strings.TrimSpace(k)
	v = strings.TrimSpace(v)
	vcol := indent + strings.Index(line, "=") + 1
	for vcol-indent < len(line) && line[vcol-indent] == ' ' {
		vcol++
	}
	gi := p.cur.gi
	if _, ok := p.groupVars[gi]; !ok {
		p.order = append(p.order, gi)
	}
	p.groupVars[gi] = append(p.groupVars[gi], ansibleVar{name: k, key: scalarNode(k, lineNo, indent), val: iniValue(p.l, unquote(v), lineNo, vcol+1)})
}

// childLine reads a group name in a [group:children] section.
func (p *iniParse) childLine(line string, lineNo, indent int) {
	l := p.l
	name := strings.TrimSpace(stripComment(line))
	if name == "" {
		return
	}
	g := l.groups[p.cur.gi]
	g.children = append(g.children, nameRef{name: name, file: p.file, line: lineNo, col: indent})
	// Ansible creates a group named only as a child.
	if c := l.group(name, p.file, lineNo, indent); !c.defined {
		c.defined = true
	}
}

// hostLine reads a host and its key=value variables in a hosts section
// (or before any section: the host is then in group ungrouped).
func (p *iniParse) hostLine(line string, lineNo, indent int) {
	l, file := p.l, p.file
	fields, err := iniFields(line)
	if err != nil {
		l.errorf(file, lineNo, indent, "", "%v", err)
		return
	}
	if len(fields) == 0 {
		return
	}
	host := fields[0].text
	prefix := host
	if p.cur.gi >= 0 {
		prefix = l.groups[p.cur.gi].name + "." + host
	}
	var vars []ansibleVar
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f.text, "=")
		if !ok {
			l.errorf(file, lineNo, indent+f.col, prefix, "want key=value after the host name, got %q", truncate(f.text, 60))
			continue
		}
		vcol := indent + f.col + len(k) + 1
		vars = append(vars, ansibleVar{name: k, key: scalarNode(k, lineNo, indent+f.col), val: iniValue(l, v, lineNo, vcol)})
	}
	var entry *hostEntry
	if len(vars) > 0 {
		entry = &hostEntry{vals: l.ansibleVars(file, prefix, hostWhere(host), vars, nil)}
	}
	gi := p.cur.gi
	if gi < 0 {
		gi = l.groupIdx[l.group("ungrouped", file, lineNo, indent).name]
		l.groups[gi].defined = true
	}
	l.addHost(host, gi, entry, file, lineNo, indent, l.groups[gi].name)
}

// iniValue makes a node of an INI value; a value in brackets or braces is
// read as YAML flow (a list of rooms, say).
func iniValue(l *loader, v string, line, col int) *yaml.Node {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		if n := l.parseFlowValue(t); n != nil {
			setPos(n, line, col)
			return n
		}
	}
	return scalarNode(v, line, col)
}

func setPos(n *yaml.Node, line, col int) {
	n.Line, n.Column = line, col
	for _, c := range n.Content {
		setPos(c, line, col)
	}
}

type iniField struct {
	text string
	col  int // 0-based offset in the line
}

// iniFields splits a host line on blanks, honouring quotes in values and
// stopping at a # comment.
func iniFields(line string) ([]iniField, error) {
	var out []iniField
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			break
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '"' && line[i] != '\'' {
			i++
		}
		if i == len(line) || line[i] == ' ' || line[i] == '\t' {
			// No quotes: the field is the line's own text.
			out = append(out, iniField{text: line[start:i], col: start})
			continue
		}
		var b strings.Builder
		b.WriteString(line[start:i])
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			c := line[i]
			if c == '"' || c == '\'' {
				j := strings.IndexByte(line[i+1:], c)
				if j < 0 {
					return nil, errorString("unterminated quote at column " + strconv.Itoa(i+1))
				}
				b.WriteString(line[i+1 : i+1+j])
				i += j + 2
				continue
			}
			b.WriteByte(c)
			i++
		}
		out = append(out, iniField{text: b.String(), col: start})
	}
	return out, nil
}

func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	if strings.HasPrefix(strings.TrimSpace(s), "#") {
		return ""
	}
	return s
}

func unquote(v string) string {
	v = strings.TrimSpace(stripComment(v))
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// readVarsDirs reads group_vars/ and host_vars/ of every source's
// directory (beside an inventory file, inside an inventory directory):
// NAME, NAME.yml, NAME.yaml, NAME.json, or a directory NAME/ of such files.
// A later source's directory beats an earlier one's.
func (l *loader) readVarsDirs() {
	for bi, base := range l.varsBases {
		for _, dirName := range []string{"group_vars", "host_vars"} {
			l.readVarsDir(base, dirName, varsRank+bi)
		}
	}
}

func (l *loader) readVarsDir(base varsBase, dirName string, rank int) {
	dir := filepath.Join(base.abs, dirName)
	// Relative paths in vars files are relative to the inventory's directory.
	l.conv.dir = base.abs
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		var files []string
		base := name
		if e.IsDir() {
			sub, err := os.ReadDir(filepath.Join(dir, name))
			if err != nil {
				l.errorf(filepath.Join(dir, name), 0, 0, "", "%v", err)
				continue
			}
			for _, s := range sub {
				if !s.IsDir() && isVarsFile(s.Name(), true) {
					files = append(files, filepath.Join(dir, name, s.Name()))
				}
			}
			sort.Strings(files)
		} else {
			if !isVarsFile(name, false) {
				continue
			}
			base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".yml"), ".yaml"), ".json")
			files = []string{filepath.Join(dir, name)}
		}
		for _, f := range files {
			l.readVarsFile(dirName, base, f, rank)
		}
	}
}

func isVarsFile(name string, _ bool) bool {
	switch filepath.Ext(name) {
	case ".yml", ".yaml", ".json":
		return true
	case "":
		return true
	}
	return false
}

func (l *loader) readVarsFile(kind, name, path string, rank int) {
	// Name the file the way the inventory path was given.
	shown := path
	for _, b := range l.varsBases {
		if rel, ok := strings.CutPrefix(path, b.abs+string(filepath.Separator)); ok {
			shown = filepath.Join(b.shown, rel)
			break
		}
	}
	l.fileRank[shown] = rank
	data, err := os.ReadFile(path)
	if err != nil {
		l.errorf(shown, 0, 0, "", "cannot read: %v", unwrapPathError(err))
		return
	}
	l.checkNUL(shown, data)
	data, ok := l.decryptFile(shown, data)
	if !ok {
		return
	}
	root := l.parseYAML(shown, data)
	if root == nil {
		return
	}
	vars := l.mappingVars(shown, "", root)
	if kind == "group_vars" {
		gi, ok := l.groupIdx[name]
		if !ok || !l.groups[gi].defined {
			l.warnf(shown, 0, 0, "", "group_vars for unknown group %q ignored", name)
			return
		}
		g := l.groups[gi]
		// group_vars files beat the inventory sources' own group variables.
		l.addGroupVals(g, l.ansibleVars(shown, "", groupWhere(name), vars, g))
		l.checkLevel(shown, name, g.vals)
		return
	}
	hi, ok := l.hostIdx[name]
	if !ok {
		l.warnf(shown, 0, 0, "", "host_vars for unknown host %q ignored", name)
		return
	}
	h := l.hosts[hi]
	h.entries = append(h.entries, &hostEntry{vals: l.ansibleVars(shown, "", hostWhere(name), vars, nil), rank: rank})
}
