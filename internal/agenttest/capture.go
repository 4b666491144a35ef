package agenttest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// A Capture is one real output of a real agent or tool, kept in testdata
// with the command, agent version, setup and date that produced it.
//
// The file format (read by fleetclaim's classifier tests too):
//
//	# fleetclaim capture: ...
//	# command: netdatacli reload-claiming-state
//	# agent: netdata v2.11.0 ...
//	# setup: ...
//	# date: 2026-12-01
//	# exit: 0
//	--- stdout 97
//	<97 bytes, exactly as printed>
//	--- stderr 0
//	<0 bytes>
//	--- end
type Capture struct {
	Name    string
	Command string
	Agent   string
	Setup   string
	Date    string
	Exit    int
	Stdout  string
	Stderr  string
}

// captureHeader is the first line of every capture file.
const captureHeader = "# fleetclaim capture: a real agent's output, byte for byte; regenerate with `go test ./internal/agenttest -run TestRealCaptures -update` (as root)"

// Marshal renders c in the capture file format.
func (c Capture) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n# command: %s\n# agent: %s\n# setup: %s\n# date: %s\n# exit: %d\n", captureHeader, oneLine(c.Command), oneLine(c.Agent), oneLine(c.Setup), c.Date, c.Exit)
	fmt.Fprintf(&b, "--- stdout %d\n%s\n--- stderr %d\n%s\n--- end\n", len(c.Stdout), c.Stdout, len(c.Stderr), c.Stderr)
	return b.Bytes()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// ParseCapture reads a capture file.
func ParseCapture(name string, b []byte) (Capture, error) {
	c := Capture{Name: name}
	s := string(b)
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return c, fmt.Errorf("%s: no --- stdout section", name)
		}
		if strings.HasPrefix(line, "--- stdout ") {
			break
		}
		s = rest
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		switch k {
		case "command":
			c.Command = v
		case "agent":
			c.Agent = v
		case "setup":
			c.Setup = v
		case "date":
			c.Date = v
		case "exit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("%s: exit: %v", name, err)
			}
			c.Exit = n
		}
	}
	var err error
	if c.Stdout, s, err = section(s, "stdout"); err != nil {
		return c, fmt.Errorf("%s: %v", name, err)
	}
	if c.Stderr, s, err = section(s, "stderr"); err != nil {
		return c, fmt.Errorf("%s: %v", name, err)
	}
	if s != "--- end\n" {
		return c, fmt.Errorf("%s: no --- end after stderr", name)
	}
	return c, nil
}

func section(s, name string) (string, string, error) {
	line, rest, _ := strings.Cut(s, "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(line, "--- "+name+" "))
	if err != nil || !strings.HasPrefix(line, "--- "+name+" ") || len(rest) < n+1 || rest[n] != '\n' {
		return "", "", fmt.Errorf("bad %s section", name)
	}
	return rest[:n], rest[n+1:], nil
}

// ReadCaptures reads every capture file (*.txt) of dir.
func ReadCaptures(dir string) (map[string]Capture, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	m := map[string]Capture{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		c, err := ParseCapture(name, b)
		if err != nil {
			return nil, err
		}
		m[name] = c
	}
	return m, nil
}

// Volatile parts of a real output: ids, ports, times and keys that differ
// from run to run. Normalize masks them so that two runs can be compared.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`-----BEGIN PUBLIC KEY-----[^"]*-----END PUBLIC KEY-----\\n`), "<public key>"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<uuid>"},
	{regexp.MustCompile(`127\.0\.0\.1(\\?/?:|:)[0-9]+`), "127.0.0.1:<port>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "<time>"},
	{regexp.MustCompile(`\b1[0-9]{9}\b`), "<unix time>"},
	{regexp.MustCompile(`("(age|next_in|last-backoff-value|publish_latency_us|reconnect-count|since)"\s*:\s*)[0-9.]+`), "${1}<n>"},
	{regexp.MustCompile(`(Last Backoff: )[0-9.]+`), "${1}<n>"},
	{regexp.MustCompile(`(Reconnect count: )[0-9]+`), "${1}<n>"},
	{regexp.MustCompile(`\.fleetclaim\.[0-9]+`), ".fleetclaim.<pid>"},
	{regexp.MustCompile(`"hostname"\s*:\s*"[^"]*"`), `"hostname":"<hostname>"`},
	{regexp.MustCompile(`(?m)^(Hostname: |    hostname = |\thostname = ).*$`), "${1}<hostname>"},
}

// Normalize masks the volatile parts of s.
func Normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}
