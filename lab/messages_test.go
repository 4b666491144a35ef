package lab

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// netdataMirror is a git clone or bare mirror of netdata/netdata, when the
// machine has one (CI does not): $FLEETCLAIM_NETDATA_GIT, else the path
// this project's machines keep it at.
var netdataMirror = func() string {
	if d := os.Getenv("FLEETCLAIM_NETDATA_GIT"); d != "" {
		return d
	}
	return "/work/.mirror/netdata+netdata/repo"
}()

// The kinds of a row's source parts.
const (
	srcCapture = "capture"
	srcNetdata = "netdata"
	srcCurl    = "libcurl"
	srcLab     = "lab"
)

var (
	netdataSrcRe = regexp.MustCompile(`^([A-Za-z0-9_./-]+\.[a-z]+):([0-9]+) (v[0-9]+\.[0-9]+\.[0-9]+)$`)
	curlSrcRe    = regexp.MustCompile(`^libcurl CURLE_[A-Z_]+$`)
)

// sourceParts splits a row's source into its kinds, failing on a part of no
// known form.
func sourceParts(t *testing.T, id msgID, r msgRow) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range strings.Split(r.source, "; ") {
		switch {
		case p == "lab":
			out[srcLab] = append(out[srcLab], p)
		case strings.HasPrefix(p, "claim/testdata/real/") || strings.HasPrefix(p, "lab/testdata/"):
			out[srcCapture] = append(out[srcCapture], p)
		case netdataSrcRe.MatchString(p):
			out[srcNetdata] = append(out[srcNetdata], p)
		case curlSrcRe.MatchString(p):
			out[srcCurl] = append(out[srcCurl], p)
		default:
			t.Errorf("row %s: source part %q is neither a capture, a Netdata file:line tag, libcurl nor lab", id, p)
		}
	}
	return out
}

// TestMessageRowsHaveSources: every row names a source of a known form;
// a lab row says why it may exist and cites nothing else, and a row that
// TestMessageGroupsDisjoint: the table's groups hold every row once: no
// message is in two groups, where one would silently replace the other.
func TestMessageGroupsDisjoint(t *testing.T) {
	seen := map[msgID]int{}
	n := 0
	for gi, g := range msgGroups() {
		if len(g) == 0 {
			t.Errorf("group %d is empty", gi)
		}
		for id := range g {
			if prev, dup := seen[id]; dup {
				t.Errorf("row %s is in groups %d and %d", id, prev, gi)
			}
			seen[id] = gi
			n++
		}
	}
	if len(msgTable()) != n {
		t.Errorf("the table has %d rows, its groups %d", len(msgTable()), n)
	}
}

// cites libcurl gives curl's exit code.
func TestMessageRowsHaveSources(t *testing.T) {
	table := msgTable()
	if len(table) == 0 {
		t.Fatal("empty message table")
	}
	counts := map[string]int{}
	for id, r := range table {
		if r.source == "" {
			t.Errorf("row %s has no source", id)
			continue
		}
		parts := sourceParts(t, id, r)
		if len(parts[srcLab]) > 0 && (len(parts) > 1 || r.labOnly == "") {
			t.Errorf("row %s: a lab row cites nothing else and says why it exists (labOnly %q)", id, r.labOnly)
		}
		if len(parts[srcCurl]) > 0 && r.exit == 0 {
			t.Errorf("row %s: a libcurl row carries curl's exit code", id)
		}
		if r.text == "" && r.exit == 0 && r.status == 0 {
			t.Errorf("row %s says nothing: no text, exit code or status", id)
		}
		for k := range parts {
			counts[k]++
		}
	}
	t.Logf("%d rows: %d cite a Netdata file:line, %d a capture, %d libcurl, %d are the lab's own",
		len(table), counts[srcNetdata], counts[srcCapture], counts[srcCurl], counts[srcLab])
}

// readCapture reads a capture (format: internal/agenttest/capture.go):
// "# exit: N" in its header, then its stdout and stderr sections.
func readCapture(t *testing.T, path string) CapturedOutput {
	t.Helper()
	f, err := os.Open(filepath.Join("..", path))
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	defer f.Close()
	var c CapturedOutput
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	header, exitSeen := true, false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case header && strings.HasPrefix(l, "# exit: "):
			n, err := strconv.Atoi(strings.TrimPrefix(l, "# exit: "))
			if err != nil {
				t.Fatalf("%s: %q: %v", path, l, err)
			}
			c.Exit, exitSeen = n, true
		case header && strings.HasPrefix(l, "# "):
		case strings.HasPrefix(l, "--- "):
			header = false
		default:
			header = false
			c.Lines = append(c.Lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !exitSeen {
		t.Fatalf("%s is not a capture: no \"# exit:\" line", path)
	}
	return c
}

// TestMessageRowsInCaptures: every capture a row cites exists and holds the
// row's text and exit code.
func TestMessageRowsInCaptures(t *testing.T) {
	c := CheckCaptureRows(func(path string) (CapturedOutput, bool) {
		if _, err := os.Stat(filepath.Join("..", path)); err != nil {
			return CapturedOutput{}, false
		}
		return readCapture(t, path), true
	})
	for _, p := range c.Problems {
		t.Error(p)
	}
	for _, p := range c.Absent {
		t.Errorf("capture %s: no such file", p)
	}
	if c.Checked == 0 {
		t.Fatal("no row cites a capture")
	}
	t.Logf("%d (row, capture) pairs checked", c.Checked)
}

// cLiterals are the C string literals of a source line, escapes undone.
func cLiterals(line string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(line, -1) {
		s := strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\"`, `"`, `\\`, `\`).Replace(m[1])
		out = append(out, s)
	}
	return out
}

// netdataLineHolds reports whether a Netdata source line says row r: a
// line of one of its C format strings is a whole line of the row's text,
// or (a Cloud answer) it branches on the row's errorMsgKey or HTTP status.
func netdataLineHolds(r msgRow, src string) bool {
	if r.status != 0 {
		return (r.key != "" && strings.Contains(src, strconv.Quote(r.key))) || strings.Contains(src, "== "+strconv.Itoa(r.status))
	}
	for _, lit := range cLiterals(src) {
		// A shell line's variables stand for any text, as verbs do.
		lit = regexp.MustCompile(`\$(\{?[A-Za-z_][A-Za-z0-9_]*\}?|\?)`).ReplaceAllString(lit, "%s")
		for _, fl := range strings.Split(lit, "\n") {
			if strings.TrimSpace(fl) == "" {
				continue
			}
			// A whole line, or (a literal of some length: a shell line
			// whose output adds a prefix) a part of one.
			whole := len(strings.TrimSpace(fmtVerb().ReplaceAllString(fl, ""))) < 24
			re := lineRegexp(strings.ReplaceAll(fl, "%ld", "%d"), whole)
			for _, l := range textLines(r.text) {
				if re.MatchString(fmtVerb().ReplaceAllString(l, "X")) {
					return true
				}
			}
		}
	}
	return false
}

// TestMessageRowsInNetdataSource: every Netdata file:line a row cites exists
// at its tag and says the row, read from the Netdata mirror when the machine
// has it.
func TestMessageRowsInNetdataSource(t *testing.T) {
	if _, err := os.Stat(netdataMirror); err != nil {
		t.Skipf("no Netdata mirror at %s (%v): the Netdata file:line sources are not checked", netdataMirror, err)
	}
	files := map[string][]string{}
	n := 0
	for id, r := range msgTable() {
		for _, p := range sourceParts(t, id, r)[srcNetdata] {
			m := netdataSrcRe.FindStringSubmatch(p)
			key := m[3] + ":" + m[1]
			lines, ok := files[key]
			if !ok {
				out, err := exec.Command("git", "-C", netdataMirror, "show", key).Output()
				if err != nil {
					t.Errorf("row %s: git show %s: %v", id, key, err)
					continue
				}
				lines = strings.Split(string(out), "\n")
				files[key] = lines
			}
			ln, _ := strconv.Atoi(m[2])
			if ln < 1 || ln > len(lines) {
				t.Errorf("row %s: %s has %d lines", id, key, len(lines))
				continue
			}
			n++
			if !netdataLineHolds(r, lines[ln-1]) {
				t.Errorf("row %s: %s is %q, which does not say %q", id, p, strings.TrimSpace(lines[ln-1]), r.text)
			}
		}
	}
	t.Logf("%d Netdata source lines checked", n)
}

// TestNetdatacliCommandsInNetdataSource: the commands and help texts of
// the lab's netdatacli are command_info_array's of src/daemon/commands.c
// v2.11.0.
func TestNetdatacliCommandsInNetdataSource(t *testing.T) {
	if _, err := os.Stat(netdataMirror); err != nil {
		t.Skipf("no Netdata mirror at %s (%v): netdatacli's commands are not checked", netdataMirror, err)
	}
	out, err := exec.Command("git", "-C", netdataMirror, "show", "v2.11.0:src/daemon/commands.c").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range netdatacliCommands() {
		re := regexp.MustCompile(`\{` + regexp.QuoteMeta(strconv.Quote(c.name)) + `,\s*` + regexp.QuoteMeta(strconv.Quote(c.args)) + `,\s*` + regexp.QuoteMeta(strconv.Quote(c.help)) + `,`)
		if !re.Match(out) {
			t.Errorf("netdatacli %s: not in src/daemon/commands.c v2.11.0 as %q %q %q", c.name, c.name, c.args, c.help)
		}
	}
}

// labFiles are the lab files whose agents, tools and Cloud speak: none of
// them may hold its own words (messages.go holds them all).
func labFiles(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range all {
		if strings.HasSuffix(f, "_test.go") || f == "messages.go" || notScanned()[f] != "" {
			continue
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// notScanned are the lab files the scan leaves out, and why.
func notScanned() map[string]string {
	return map[string]string{
		// netdata -W buildinfo: the agent binary's build report, for old
		// agents the captured real 1.37.1 one
		// (TestBuildInfoColonsIsTheRealOne), not a table row.
		"layout.go": "buildinfo",
	}
}

// msgMarkers are words of agents, tools and Cloud that no string literal
// outside messages.go may carry.
func msgMarkers() []string {
	return []string{
		"Netdata Agent is", "Failed:", "Failed to", "Failed with", "Agent is initializing", "Cannot connect",
		"uv_pipe_connect", "Claiming is in progress", "not claimed yet", "error message", "Connection attempt",
		"ACLK", "Claimed:", "Online:", "Node Instance", "Request failed", "Illegal command", "is not readable",
		"netdata is", "netdata: OK", "Couldn't", "SSL peer", "Timeout was reached", "Cannot write", "cannot read public",
		"--disable-cloud", "Unknown argument", "Unknown HTTP", "could not be notified", "errorMsgKey\":",
		"ErrInvalid", "ErrForbidden", "ErrAlreadyClaimed", "ErrProcessingClaim", "ErrInternalServerError",
		"ErrServiceUnavailable", "ErrGatewayTimeout", "ErrNotFound", "ErrBadRequest", "ErrUnauthorized",
		"ErrRoomNotFound", "ErrSpaceNotFound", "ErrLabFault", "lab is not running", "Returns current state", "ABORTED", "FAILED ", " OK ",
	}
}

// msgIDArgs are the functions that take a row id, and where.
func msgIDArgs() map[string]int {
	return map[string]int{"msgf": 0, "msgExit": 0, "msgRowOf": 0, "reply": 0, "add": 0, "requestFailure": 0,
		"cloudError": 1, "cloudErrorAt": 2}
}

// TestLabSaysOnlyTableRows scans the lab's code: outside messages.go no
// string literal holds an agent's, a tool's or Cloud's words (a marker of
// msgMarkers, or a row's text), no ctlReply sets an exit code of its own,
// and every row id passed is a constant of messages.go with a row.
func TestLabSaysOnlyTableRows(t *testing.T) {
	fset := token.NewFileSet()
	ids := msgIDConsts(t, fset)
	table := msgTable()
	for name, val := range ids {
		if _, ok := table[msgID(val)]; !ok {
			t.Errorf("id %s (%q) has no row", name, val)
		}
	}
	var rowTexts []string
	for _, r := range table {
		for _, l := range textLines(r.text) {
			for _, piece := range fmtVerb().Split(l, -1) {
				if len(strings.TrimSpace(piece)) >= 12 {
					rowTexts = append(rowTexts, strings.TrimSpace(piece))
				}
			}
		}
	}
	files := labFiles(t)
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, m := range append(msgMarkers(), rowTexts...) {
					if strings.Contains(s, m) {
						t.Errorf("%s: a literal holds %q, a message of the table's: say it through a row", fset.Position(n.Pos()), m)
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "ctlReply" {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Exit" {
								t.Errorf("%s: a ctlReply with an exit code of its own: take it from a row", fset.Position(n.Pos()))
							}
						}
					}
				}
			case *ast.CallExpr:
				checkIDArg(t, fset, n, ids)
			}
			return true
		})
	}
	if len(files) < 10 {
		t.Fatalf("scanned only %v", files)
	}
}

// checkIDArg checks the row id a call passes: a constant of messages.go or
// a variable holding one, never a literal.
func checkIDArg(t *testing.T, fset *token.FileSet, call *ast.CallExpr, ids map[string]string) {
	t.Helper()
	name := ""
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		name = fn.Name
	case *ast.SelectorExpr:
		name = fn.Sel.Name
	}
	pos, ok := msgIDArgs()[name]
	if !ok || len(call.Args) <= pos {
		return
	}
	switch a := call.Args[pos].(type) {
	case *ast.Ident:
		if strings.HasPrefix(a.Name, "msg") && ids[a.Name] == "" {
			t.Errorf("%s: %s(%s): no such row id", fset.Position(call.Pos()), name, a.Name)
		}
	case *ast.BasicLit:
		t.Errorf("%s: %s(%s): a row id must be a constant of messages.go", fset.Position(call.Pos()), name, a.Value)
	}
}

// msgIDConsts are the msgID constants of messages.go, name to value.
func msgIDConsts(t *testing.T, fset *token.FileSet) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(fset, "messages.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "msgID" {
				continue
			}
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s: id %s is not a string literal", fset.Position(n.Pos()), n.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				out[n.Name] = v
			}
		}
	}
	if len(out) < 50 {
		t.Fatalf("found only %d ids in messages.go", len(out))
	}
	return out
}
