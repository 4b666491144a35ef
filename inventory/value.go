package inventory

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// val is one setting value as written at one level of an inventory, already
// parsed and checked, with where it was written.
type val struct {
	key  int16 // index in keyTable; -1 when not written by a key (ssh_config)
	slot slot
	// derived marks a port taken from "address: host:port".
	derived bool
	// whole: src is the whole Sources entry ("ssh_config …", "--set"),
	// not the level the value was written at.
	whole bool
	line  int32
	col   int32
	s     string
	n     int64
	list  []string
	// hops is the jump chain, when the slot is jump (nil: not one).
	hops *[]Endpoint
	file string
	// src names the level the value was written at ("group web", "host
	// h1"): the Sources entry "inv.yml:12:7 (group web)" is made only when
	// asked for, not kept for every host. With whole, it is the entry.
	src string
}

// jump is the jump chain of a jump value.
func (v *val) jump() []Endpoint {
	if v.hops == nil {
		return nil
	}
	return *v.hops
}

// setSource makes s the whole Sources entry of v.
func (v *val) setSource(s string) { v.src, v.whole = s, true }

// source is the Sources entry: "inv.yml:12:7 (group web)".
func (v *val) source() string {
	if v.whole {
		return v.src
	}
	return formatSrc(v.file, int(v.line), int(v.col), v.src)
}

// sourceOf is source for a value of host's: one written for the host
// itself names it ("inv.yml:12:7 (host h1)").
func (v *val) sourceOf(host string) string {
	if !v.whole && v.src == hostLevel {
		return formatSrc(v.file, int(v.line), int(v.col), "host "+host)
	}
	return v.source()
}

func (v *val) keyName() string {
	if v.key >= 0 {
		return keyTable[v.key].name
	}
	return slotNames[v.slot]
}

// sameValue reports whether a and b set their slot to the same value.
func sameValue(a, b *val) bool {
	if a.key != b.key || a.s != b.s || a.n != b.n {
		return false
	}
	return slices.Equal(a.list, b.list) && slices.Equal(a.jump(), b.jump())
}

// display renders the value for messages, secrets redacted.
func (v *val) display() string {
	if v.key >= 0 && keyTable[v.key].kind == kSecret {
		return "[REDACTED]"
	}
	if v.slot == sProxy {
		return strconv.Quote(NewProxy(v.s).String())
	}
	switch {
	case v.list != nil:
		return "[" + strings.Join(v.list, ", ") + "]"
	case v.hops != nil:
		return jumpString(*v.hops)
	case v.s != "":
		return strconv.Quote(v.s)
	}
	return strconv.FormatInt(v.n, 10)
}

func jumpString(j []Endpoint) string {
	if len(j) == 0 {
		return "none"
	}
	parts := make([]string, len(j))
	for i, e := range j {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// conv parses raw values into vals; it knows where paths are relative to.
type conv struct {
	dir  string // inventory directory, absolute
	home string
	errs *Errors
	// roomNames receives every room given by name, where it is written.
	roomNames *[]RoomRef
}

func (c *conv) errorf(file string, line, col int, key, format string, args ...any) {
	*c.errs = append(*c.errs, Diagnostic{File: file, Line: line, Col: col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// resolveAlias follows YAML aliases.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// scalarNode builds a plain string node for values that come from INI files,
// ssh_config or the command line.
func scalarNode(s string, line, col int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: line, Column: col}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an unknown node"
}

// parse checks n against key kd. fullKey names the key in diagnostics
// ("groups.web.rooms"); where names the level in Sources ("group web").
func (c *conv) parse(ki int, n *yaml.Node, file, fullKey, where string) (val, bool) {
	kd := &keyTable[ki]
	n = resolveAlias(n)
	f := &field{c: c, kd: kd, n: n, file: file, key: fullKey,
		v: val{slot: kd.slot, key: int16(ki), file: file, line: int32(n.Line), col: int32(n.Column), src: where}}
	if !kindParsers[kd.kind](f) {
		return val{}, false
	}
	return f.v, true
}

// field is one value being parsed against its key: what the per-kind
// parsers read (the node, where it is) and fill in (v).
type field struct {
	c    *conv
	kd   *keyDef
	n    *yaml.Node
	file string
	key  string // the key's full name in diagnostics
	v    val
}

// kindParsers parses a value of each kind into field.v, reporting what is
// wrong through conv.errorf; false when the value is refused. Read-only.
var kindParsers = [...]func(*field) bool{
	kString:     parseWord,
	kSecret:     parseWord,
	kUser:       parseWord,
	kNodeName:   parseWord,
	kContainer:  parseWord,
	kNoInline:   parseNoInline,
	kAddress:    parseAddress,
	kPort:       parsePort,
	kLocalPath:  parseLocalPath,
	kLocalPaths: parseLocalPaths,
	kRemotePath: parseRemotePath,
	kBool:       parseBoolValue,
	kDuration:   parseDurationValue,
	kEnum:       parseEnum,
	kURL:        parseURL,
	kProxy:      parseProxyValue,
	kRooms:      parseRooms,
	kJump:       parseJumpValue,
	kUserName:   parseUserName,
	kEnvName:    parseEnvName,
	kLabels:     parseLabels,
	kSHA256:     parseSHA256,
}

// bad reports a problem with the value; it returns false for the parser
// to return.
func (f *field) bad(format string, args ...any) bool {
	f.errorAt(f.n, format, args...)
	return false
}

// errorAt reports a problem with one node of the value (a list item).
func (f *field) errorAt(n *yaml.Node, format string, args ...any) {
	f.c.errorf(f.file, n.Line, n.Column, f.key, format, args...)
}

// scalar returns the value as a string: it must be a non-null scalar
// without a NUL byte.
func (f *field) scalar() (string, bool) {
	n := f.n
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", f.bad("want %s, got %s", kindWant(f.kd.kind), kindName(n))
	}
	if strings.IndexByte(n.Value, 0) >= 0 {
		return "", f.bad("value contains a NUL byte")
	}
	return n.Value, true
}

// list returns the items of a list value; a single scalar is a list of
// one, and when comma is true a comma-separated string is split.
func (f *field) list(comma bool) ([]*yaml.Node, bool) {
	n := f.n
	switch {
	case n.Kind == yaml.SequenceNode:
		items := make([]*yaml.Node, 0, len(n.Content))
		for _, it := range n.Content {
			it = resolveAlias(it)
			if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
				f.errorAt(it, "list items must be strings, got %s", kindName(it))
				return nil, false
			}
			items = append(items, it)
		}
		return items, true
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		if !comma {
			return []*yaml.Node{n}, true
		}
		var items []*yaml.Node
		for part := range strings.SplitSeq(n.Value, ",") {
			part = strings.TrimSpace(part)
			if part != "" {
				items = append(items, scalarNode(part, n.Line, n.Column))
			}
		}
		return items, true
	}
	return nil, f.bad("want %s, got %s", kindWant(f.kd.kind), kindName(n))
}

func parseNoInline(f *field) bool {
	return f.bad("an inline API token is not allowed: set api_token_file or api_token_env (default %s)", DefaultAPITokenEnv)
}

// parseWord: a non-empty string, on one line unless a secret, checked
// further by kind (checkWord).
func parseWord(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	if strings.TrimSpace(s) == "" {
		return f.bad("must not be empty")
	}
	if f.kd.kind != kSecret && strings.ContainsAny(s, "\n\r") {
		return f.bad("must be a single line")
	}
	if err := checkWord(f.kd.kind, s); err != nil {
		return f.bad("%v", err)
	}
	f.v.s = s
	return true
}

func parseAddress(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return f.bad("%v", err)
	}
	f.v.s, f.v.n = host, int64(port)
	return true
}

func parsePort(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return f.bad("want a port number 1-65535, got %q", s)
	}
	f.v.n = int64(p)
	return true
}

func parseLocalPath(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	if strings.TrimSpace(s) == "" {
		return f.bad("must not be empty")
	}
	f.v.s = f.c.localPath(s)
	return true
}

func parseLocalPaths(f *field) bool {
	items, ok := f.list(false)
	if !ok {
		return false
	}
	f.v.list = make([]string, 0, len(items))
	for _, it := range items {
		if strings.IndexByte(it.Value, 0) >= 0 {
			f.errorAt(it, "value contains a NUL byte")
			return false
		}
		if strings.TrimSpace(it.Value) == "" {
			f.errorAt(it, "empty path")
			return false
		}
		f.v.list = append(f.v.list, f.c.localPath(it.Value))
	}
	return true
}

func parseRemotePath(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	if err := checkPrefixPath(s); err != nil {
		return f.bad("%v", err)
	}
	f.v.s = filepath.Clean(s)
	return true
}

func parseBoolValue(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	b, ok := parseBool(s)
	if !ok {
		return f.bad("want true or false, got %q", s)
	}
	if b {
		f.v.n = 1
	}
	return true
}

func parseDurationValue(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	d, err := parseDuration(s)
	if err != nil {
		return f.bad("%v", err)
	}
	if f.kd.slot == sConnectTimeout && d <= 0 {
		return f.bad("must be greater than zero")
	}
	f.v.n = int64(d)
	return true
}

func parseEnum(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	ls := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(f.kd.enum, ls) {
		return f.bad("want one of %s, got %q%s", strings.Join(f.kd.enum, "|"), s, didYouMean(ls, f.kd.enum))
	}
	f.v.s = ls
	return true
}

func parseURL(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	u, err := ParseCloudURL(s)
	if err != nil {
		return f.bad("%v", err)
	}
	f.v.s = u
	return true
}

func parseProxyValue(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	p, err := ParseProxy(s)
	if err != nil {
		return f.bad("want none, env or a proxy URL: %v", err)
	}
	f.v.s = p.Reveal()
	return true
}

// parseRooms: room ids (lower-cased) or names (resolved to ids through
// the Cloud API at run time), each once.
func parseRooms(f *field) bool {
	items, ok := f.list(true)
	if !ok {
		return false
	}
	f.v.list = make([]string, 0, len(items))
	good := true
	for _, it := range items {
		r, ok := f.room(it)
		if !ok {
			good = false
			continue
		}
		if !slices.Contains(f.v.list, r) {
			f.v.list = append(f.v.list, r)
		}
	}
	if !good {
		return false
	}
	if len(f.v.list) == 0 {
		return f.bad("no rooms")
	}
	return true
}

// room checks one item of a rooms list; a name is noted for resolving.
func (f *field) room(it *yaml.Node) (string, bool) {
	r := strings.TrimSpace(it.Value)
	switch {
	case isUUID(r):
		return strings.ToLower(r), true
	case r == "":
		f.errorAt(it, "empty room name")
		return "", false
	case strings.ContainsAny(r, "\r\n") || strings.IndexByte(r, 0) >= 0 || len(r) > 200:
		f.errorAt(it, "room name %q must be a single line of at most 200 bytes", truncate(r, 80))
		return "", false
	}
	// A name: resolved to its id through the Cloud API at run time.
	if f.c.roomNames != nil {
		*f.c.roomNames = append(*f.c.roomNames, RoomRef{Name: r, File: f.file, Line: it.Line, Col: it.Column, Key: f.key})
	}
	return r, true
}

// parseJumpValue: ProxyJump syntax, or a list of hops.
func parseJumpValue(f *field) bool {
	var specs []string
	if f.n.Kind == yaml.SequenceNode {
		items, ok := f.list(false)
		if !ok {
			return false
		}
		for _, it := range items {
			specs = append(specs, it.Value)
		}
	} else {
		s, ok := f.scalar()
		if !ok {
			return false
		}
		specs = []string{s}
	}
	j, err := parseJump(strings.Join(specs, ","))
	if err != nil {
		return f.bad("%v", err)
	}
	f.v.hops = &j
	return true
}

func parseUserName(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	if !isUserName(s) {
		return f.bad("%q is not a user name (letters, digits, _ . -, not starting with - or a digit-only name, at most 32)", s)
	}
	f.v.s = s
	return true
}

func parseEnvName(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	if !isEnvName(s) {
		return f.bad("%q is not an environment variable name", s)
	}
	f.v.s = s
	return true
}

func parseLabels(f *field) bool {
	pairs, ok := f.c.labels(f.n, f.file, f.key)
	if !ok {
		return false
	}
	f.v.list = pairs
	return true
}

func parseSHA256(f *field) bool {
	s, ok := f.scalar()
	if !ok {
		return false
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return f.bad("want 64 hexadecimal digits")
	}
	f.v.s = s
	return true
}

func kindWant(k kind) string {
	switch k {
	case kLocalPaths:
		return "a list of paths"
	case kRooms:
		return "a list of room ids or names"
	case kJump:
		return "a jump host list"
	case kBool:
		return "true or false"
	case kPort:
		return "a port number"
	case kDuration:
		return "a duration"
	case kLabels:
		return "a mapping of label names to values"
	}
	return "a string"
}

func formatSrc(file string, line, col int, where string) string {
	var b strings.Builder
	b.Grow(len(file) + len(where) + 16)
	b.WriteString(file)
	if line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(line))
		if col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(col))
		}
	}
	if where != "" {
		b.WriteString(" (")
		b.WriteString(where)
		b.WriteByte(')')
	}
	return b.String()
}

// localPath expands ~ and makes s absolute relative to the inventory's
// directory.
func (c *conv) localPath(s string) string {
	s = strings.TrimSpace(s)
	if s == "~" {
		return c.home
	}
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		return filepath.Join(c.home, rest)
	}
	if !filepath.IsAbs(s) {
		return filepath.Join(c.dir, s)
	}
	return filepath.Clean(s)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	return false, false
}

// parseDuration accepts a Go duration ("1m30s") or plain seconds ("10").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 10s or 1m30s, or seconds, got %q", truncate(s, 40))
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, nil
}

// checkWord checks the single-word settings that reach a host's scripts.
func checkWord(k kind, s string) error {
	switch k {
	case kUser:
		return checkUserName(s)
	case kNodeName:
		return checkNodeName(s)
	case kContainer:
		return checkContainerName(s)
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		ch := s[i]
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return false
			}
		default:
			if !isHex(ch) {
				return false
			}
		}
	}
	return true
}

func isHex(ch byte) bool {
	return '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '_' || 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || i > 0 && '0' <= ch && ch <= '9' {
			continue
		}
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// splitHostPort splits "host", "host:port", "[v6]", "[v6]:port" or a bare
// IPv6 literal. Port 0 means none was given.
func splitHostPort(s string) (string, int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, fmt.Errorf("empty address")
	}
	var host, port string
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("%q: missing ']'", truncate(s, 80))
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return "", 0, fmt.Errorf("%q: unexpected text after ']'", truncate(s, 80))
			}
			port = p
		}
		if net.ParseIP(host) == nil {
			return "", 0, fmt.Errorf("%q is not an IP address", truncate(host, 80))
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		if net.ParseIP(s) == nil {
			return "", 0, fmt.Errorf("%q is not an IPv6 address (write [addr]:port for a port)", truncate(s, 80))
		}
		host = s
	default:
		host = s
	}
	if !strings.Contains(host, ":") {
		if err := checkHostName(host); err != nil {
			return "", 0, err
		}
	}
	p := 0
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("%q: bad port %q", truncate(s, 80), truncate(port, 20))
		}
		p = n
	}
	return host, p, nil
}

// checkHostName accepts DNS names, IPv4 addresses and ssh_config-style
// aliases; it refuses what could never be a host (spaces, slashes, @).
func checkHostName(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	if len(h) > 253 {
		return fmt.Errorf("host name %q is too long", truncate(h, 40))
	}
	for i := 0; i < len(h); i++ {
		ch := h[i]
		if ch <= ' ' || ch == 0x7f || strings.IndexByte("/@[]\\\"'`,;$&|<>(){}", ch) >= 0 {
			return fmt.Errorf("%q is not a valid host name", truncate(h, 80))
		}
	}
	if h[0] == '-' {
		return fmt.Errorf("host name %q must not start with '-'", truncate(h, 80))
	}
	return nil
}

// parseJump parses ProxyJump syntax: "[user@]host[:port],…" or "none".
func parseJump(s string) ([]Endpoint, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return []Endpoint{}, nil
	}
	var out []Endpoint
	for hop := range strings.SplitSeq(s, ",") {
		hop = strings.TrimSpace(hop)
		if hop == "" {
			return nil, fmt.Errorf("empty hop in jump list %q", truncate(s, 80))
		}
		hop = strings.TrimPrefix(hop, "ssh://")
		var e Endpoint
		if at := strings.LastIndexByte(hop, '@'); at >= 0 {
			e.User = hop[:at]
			hop = hop[at+1:]
			if e.User == "" || strings.ContainsAny(e.User, " \t") {
				return nil, fmt.Errorf("bad user in jump hop %q", truncate(hop, 80))
			}
		}
		h, p, err := splitHostPort(hop)
		if err != nil {
			return nil, fmt.Errorf("jump hop: %w", err)
		}
		e.Address = h
		e.Port = p
		if e.Port == 0 {
			e.Port = 22
		}
		out = append(out, e)
	}
	return out, nil
}

// maxUserName is the longest user name accepted (useradd's limit).
const maxUserName = 32

// isUserName reports whether s is a portable user name (POSIX's portable
// file name characters, not starting with '-', not all digits, which sudo
// -u would take for a uid): what reaches sudo -u and doas -u.
func isUserName(s string) bool {
	if s == "" || len(s) > maxUserName || s[0] == '-' {
		return false
	}
	digits := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '.', c == '-':
			digits = false
		default:
			return false
		}
	}
	return !digits
}
