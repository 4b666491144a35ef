package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fleetclaim/fleetclaim/internal/procgroup"
)

// Inventory scripts (Ansible's script inventory plugin): SCRIPT --list
// prints the groups as JSON, with every host's variables in
// _meta.hostvars; without _meta, SCRIPT --host NAME prints each host's.
const (
	// DefaultScriptTimeout bounds one run of an inventory script.
	DefaultScriptTimeout = 60 * time.Second
	// maxScriptOutput bounds what one run may print on stdout.
	maxScriptOutput = 256 << 20
	// maxScriptStderr is how much of its stderr an error quotes.
	maxScriptStderr = 2 << 10
	// scriptWaitDelay bounds the wait for the script's output pipes once it
	// has exited or been killed (a child it left may hold them).
	scriptWaitDelay = 2 * time.Second
)

// runScript runs an inventory script and reads its output.
func (l *loader) runScript(path string) {
	l.ansible = true
	l.setFormat("script")
	shown := path + " --list"
	l.fileRank[shown] = l.rank
	out, ok := l.execScript(path, shown, "--list")
	if !ok {
		return
	}
	l.parseAnsibleJSON(shown, out, func(host string) ([]byte, string, bool) {
		s := path + " --host " + host
		l.fileRank[s] = l.rank
		out, ok := l.execScript(path, s, "--host", host)
		return out, s, ok
	})
}

// execScript runs the script with args, reporting a failure (exit status
// and the end of its stderr, a timeout, a start failure) at shown.
func (l *loader) execScript(path, shown string, args ...string) ([]byte, bool) {
	timeout := l.opts.ScriptTimeout
	if timeout <= 0 {
		timeout = DefaultScriptTimeout
	}
	ctx, cancel := context.WithTimeout(l.ctx, timeout)
	defer cancel()
	abs, err := filepath.Abs(path)
	if err != nil {
		l.errorf(shown, 0, 0, "", "%v", err)
		return nil, false
	}
	stdout := &cappedBuffer{max: maxScriptOutput}
	stderr := &cappedBuffer{max: 64 << 10, keepTail: true}
	cmd := exec.CommandContext(ctx, abs, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	procgroup.Own(cmd)
	cmd.Cancel = func() error { return procgroup.Kill(cmd) }
	cmd.WaitDelay = scriptWaitDelay
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil && l.ctx.Err() == nil:
		l.errorf(shown, 0, 0, "", "inventory script did not finish within %s and was killed%s", timeout, stderrTail(stderr))
	case ctx.Err() != nil:
		l.errorf(shown, 0, 0, "", "inventory script interrupted: %v", l.ctx.Err())
	case errors.As(err, &exitErr):
		l.errorf(shown, 0, 0, "", "inventory script exited with status %d%s", exitErr.ExitCode(), stderrTail(stderr))
	case errors.Is(err, syscall.ENOEXEC):
		l.errorf(shown, 0, 0, "", "not a program the system can run (no #! line): give another --inventory-format")
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		l.errorf(shown, 0, 0, "", "cannot run inventory script: %v", unwrapPathError(err))
	case stdout.over:
		l.errorf(shown, 0, 0, "", "inventory script printed more than %d MiB", maxScriptOutput>>20)
	default:
		return stdout.Bytes(), true
	}
	return nil, false
}

// stderrTail quotes the end of a script's stderr for an error, control
// characters escaped.
func stderrTail(b *cappedBuffer) string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return " (no stderr)"
	}
	if len(s) > maxScriptStderr {
		s = "…" + s[len(s)-maxScriptStderr:]
	}
	return "; stderr: " + escapeText(s)
}

// escapeText makes untrusted text safe for a terminal: newlines become
// " | ", other control and invalid bytes are escaped.
func escapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(" | ")
		case r == '\r':
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r) || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// cappedBuffer keeps at most max bytes: the first ones, or with keepTail
// the last ones. over tells that some were dropped.
type cappedBuffer struct {
	bytes.Buffer
	max      int
	keepTail bool
	over     bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if c.Len()+len(p) <= c.max {
		c.Buffer.Write(p)
		return n, nil
	}
	c.over = true
	if !c.keepTail {
		c.Buffer.Write(p[:max(0, c.max-c.Len())])
		return n, nil
	}
	all := append(c.Bytes(), p...)
	all = all[max(0, len(all)-c.max):]
	keep := bytes.Clone(all)
	c.Reset()
	c.Buffer.Write(keep)
	return n, nil
}
