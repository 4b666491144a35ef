package inventory

import (
	"bytes"
	"regexp"
	"strings"
)

var (
	psshHostRE = regexp.MustCompile(`^([A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_][A-Za-z0-9_.-]*(:[0-9]+)?$`)
	psshUserRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// pssh host files, as parallel-ssh reads them (psshlib/psshutil.py,
// read_host_file and parse_host_entry): one "[user@]host[:port] [user]" a
// line, "#" to the end of a line a comment. The hosts are ungrouped.

// psshFields returns a line's fields with its comment stripped.
func psshFields(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.Fields(line)
}

// parsePSSH reads a pssh host file.
func (l *loader) parsePSSH(file string, data []byte) {
	ui := l.groupIdx[l.defineGroup("ungrouped", file, 0, 0).name]
	for i, raw := range strings.Split(string(data), "\n") {
		lineNo := i + 1
		fields := psshFields(strings.TrimRight(raw, "\r"))
		if len(fields) == 0 {
			continue
		}
		col := strings.Index(raw, fields[0]) + 1
		if len(fields) > 2 {
			l.errorf(file, lineNo, col, "", "want [user@]host[:port] [user], got %d fields", len(fields))
			continue
		}
		host, user := fields[0], ""
		if u, h, ok := strings.Cut(host, "@"); ok {
			user, host = u, h
			if user == "" {
				l.errorf(file, lineNo, col, "user", "empty user before @")
				continue
			}
		}
		ucol := col
		if len(fields) == 2 {
			if user != "" {
				l.errorf(file, lineNo, strings.LastIndex(raw, fields[1])+1, "user", "user given twice (%q and %q)", truncate(user, 40), truncate(fields[1], 40))
				continue
			}
			user, ucol = fields[1], strings.LastIndex(raw, fields[1])+1
		}
		var entry *hostEntry
		if user != "" {
			entry = &hostEntry{vals: l.addVal(nil, keyIndex["user"], scalarNode(user, lineNo, ucol),
				file, host+".user", hostWhere(host))}
		}
		l.addHost(host, ui, entry, file, lineNo, col+len(fields[0])-len(host), host)
	}
}

// looksLikePSSH reports a pssh host file that an INI inventory would not
// read the same: every line is [user@]host[:port] [user], and some line
// names a user.
func looksLikePSSH(data []byte) bool {
	users := false
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		fields := psshFields(string(line))
		switch {
		case len(fields) == 0:
			continue
		case len(fields) > 2 || !psshHostRE.MatchString(fields[0]) || len(fields) == 2 && !psshUserRE.MatchString(fields[1]):
			return false
		case len(fields) == 2 || strings.Contains(fields[0], "@"):
			users = true
		}
	}
	return users
}
