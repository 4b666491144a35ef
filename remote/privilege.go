package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Become is how commands gain privilege on a host.
type Become struct {
	// Method is "none", "sudo" or "doas".
	Method string
	// Password is the sudo password; nil means none (sudo -n). It is fed
	// on stdin, never on a command line, and never appears in an error.
	Password []byte
}

// Privileged returns a Runner that runs every command through b as root
// (user "") or as user (sudo -u / doas -u). With a password, sudo reads it on
// stdin after a unique prompt; the command's own stdin is sent only once the
// command has started, so a wrong password never eats the script. Failures
// before the command starts are categorised: a wrong password
// (CatSudoPassword), no sudo/doas, a user not allowed or a password needed
// (CatNoPrivilege). When sudo requires a terminal (requiretty), the command
// is run again on a pseudo-terminal, and so are the runner's later commands.
// Method "none" (or "") returns r itself.
func Privileged(r Runner, b Become, user string) Runner {
	if b.Method == "" || b.Method == "none" {
		return r
	}
	tag := make([]byte, 8)
	rand.Read(tag)
	h := hex.EncodeToString(tag)
	return &privileged{
		r:      r,
		b:      b,
		user:   user,
		prompt: "[fleetclaim-sudo-" + h + "] ",
		mark:   "fleetclaim-started-" + h,
	}
}

// BecomeOf tells how r runs commands: the method ("sudo", "doas", or "none"
// for a runner that runs them as the login user) and the user it runs them
// as ("" for root, and for "none" the login user).
func BecomeOf(r Runner) (method, user string) {
	if p, ok := r.(*privileged); ok {
		return p.b.Method, p.user
	}
	return "none", ""
}

type privileged struct {
	r      Runner
	b      Become
	user   string
	prompt string
	mark   string
	pty    atomic.Bool // sudo wants a terminal on this host
}

// DialContext implements Runner.
func (p *privileged) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.r.DialContext(ctx, network, addr)
}

// command returns the wrapped command line. The marker, printed by the
// privileged shell before anything else, tells what sudo said from what the
// command said. In a PTY there is no end of input: the command reads
// exactly n bytes of stdin (n < 0: none).
func (p *privileged) command(cmd string, pty bool, n int) (string, error) {
	q := &Quoter{}
	inner := "printf '%s\\n' " + p.mark + " >&2; "
	switch {
	case !pty:
		inner += `eval "$1"`
	case n < 0:
		inner += `eval "$1" </dev/null`
	default:
		inner += `dd bs=1 count=` + strconv.Itoa(n) + ` 2>/dev/null | { eval "$1"; }`
	}
	var b strings.Builder
	switch p.b.Method {
	case "sudo":
		if p.b.Password != nil {
			b.WriteString("sudo -S -p " + q.Q(p.prompt))
		} else {
			b.WriteString("sudo -n")
		}
	case "doas":
		if p.b.Password != nil {
			return "", &Error{Op: "become", Category: CatNoPrivilege, Err: errors.New("doas cannot be given a password by fleetclaim; allow the login user with nopass in doas.conf")}
		}
		b.WriteString("doas -n")
	default:
		return "", &Error{Op: "become", Category: CatInvalidValue, Err: fmt.Errorf("unknown become method %q (none, sudo or doas)", p.b.Method)}
	}
	if p.user != "" {
		b.WriteString(" -u " + q.Q(p.user))
	}
	b.WriteString(" -- sh -c " + q.Q(inner) + " sh " + q.Q(cmd))
	return b.String(), q.Err
}

// Run implements Runner.
func (p *privileged) Run(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	s, ok := p.r.(Streamer)
	if !ok {
		return p.runPlain(ctx, cmd, stdin)
	}
	if p.pty.Load() {
		return p.runPTY(ctx, s, cmd, stdin)
	}
	res, st, err := p.exec(ctx, s, cmd, stdin, false, -1)
	if err == nil && !st.started && st.needTTY {
		// Again on a terminal, when the runner (or what it wraps, a
		// debug trace) can allocate one.
		pres, perr := p.runPTY(ctx, s, cmd, stdin)
		if !errors.Is(perr, ErrNoPTY) {
			p.pty.Store(true)
			return pres, perr
		}
	}
	if err == nil && !st.started {
		err = p.failure(res, st)
	}
	return res, err
}

func (p *privileged) runPTY(ctx context.Context, s Streamer, cmd string, stdin io.Reader) (Result, error) {
	n := -1
	if stdin != nil {
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<20))
		if err != nil {
			return Result{}, &Error{Op: "run", Category: CatCommand, Err: fmt.Errorf("reading the command's input: %w", err)}
		}
		n, stdin = len(b), bytes.NewReader(b)
	}
	res, st, err := p.exec(ctx, s, cmd, stdin, true, n)
	if err == nil && !st.started {
		err = p.failure(res, st)
	}
	return res, err
}

// state is what sudo did before the command started.
type state struct {
	started bool   // the marker was seen
	prompts int    // password prompts seen
	before  []byte // what was printed before the marker (sudo's messages)
	foreign string // a question sudo asked that is not fleetclaim's prompt
	needTTY bool
	code    int
}

func (p *privileged) exec(ctx context.Context, s Streamer, cmd string, stdin io.Reader, pty bool, n int) (Result, state, error) {
	line, err := p.command(cmd, pty, n)
	if err != nil {
		return Result{}, state{}, err
	}
	pr, pw := io.Pipe()
	w := &watcher{p: p, feed: make(chan event, 4)}
	w.out.max, w.rest.max = MaxOutput, MaxOutput
	var stdout, stderr io.Writer
	var plainOut limitedBuffer
	plainOut.max = MaxOutput
	if pty {
		stdout, stderr = w, w
	} else {
		stdout, stderr = &plainOut, w
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer pw.Close()
		p.feed(ctx, w.feed, pw, stdin)
	})
	code, err := s.Exec(ctx, Exec{Cmd: line, Stdin: pr, Stdout: stdout, Stderr: stderr, PTY: pty})
	w.close()
	pr.CloseWithError(io.EOF)
	wg.Wait()
	st := w.state()
	st.code = code
	res := Result{ExitCode: code}
	if pty {
		res.Stdout, res.Truncated = w.rest.b, w.rest.cut
	} else {
		res.Stdout, res.Stderr, res.Truncated = plainOut.b, w.rest.b, plainOut.cut || w.rest.cut
	}
	if err != nil || st.started {
		return res, st, err
	}
	res.Stderr = st.before
	st.needTTY = toolSays(string(st.before))&saysNeedTTY != 0
	return res, st, nil
}

// feed answers what the watcher saw on sudo's input, in: the password
// at its prompt, then, once the command started, the command's stdin. It
// returns (and the caller closes in) at a wrong password or a question
// fleetclaim cannot answer: closing sudo's input ends its read, so it
// fails now rather than at --timeout.
func (p *privileged) feed(ctx context.Context, events <-chan event, in io.Writer, stdin io.Reader) {
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev {
			case evPrompt:
				if p.b.Password == nil {
					return
				}
				buf := append(append([]byte(nil), p.b.Password...), '\n')
				in.Write(buf)
				clear(buf)
			case evWrong, evForeign:
				return
			case evStarted:
				if stdin != nil {
					io.Copy(in, stdin)
				}
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// failure explains why the command never started: from the prompts seen,
// the exit code and what the tool said (toolSays).
func (p *privileged) failure(res Result, st state) error {
	msg := strings.TrimSpace(string(st.before))
	tool := p.b.Method
	said := toolSays(msg)
	cat := CatNoPrivilege
	var why string
	switch {
	case st.foreign != "":
		why = fmt.Sprintf("%s asked %q, which fleetclaim cannot answer: interactive authentication (one-time codes, other PAM questions, a custom prompt) is not supported; allow the login user without a password (NOPASSWD / nopass) or with its password only", tool, clipLine(st.foreign, 80))
	case st.prompts > 1 || said&saysWrongPassword != 0:
		cat, why = CatSudoPassword, "the sudo password was not accepted"
	case res.ExitCode == exitNotFound:
		why = tool + " is not installed on the host"
	case said&saysDoasNotEnabled != 0:
		why = "doas is not enabled on the host (no doas.conf): permit the login user with nopass"
	case said&saysPasswordNeeded != 0 || (st.prompts == 1 && p.b.Password == nil):
		why = tool + " wants a password for this user; give one (become password) or allow it without (NOPASSWD / nopass)"
	case said&saysNotAllowed != 0:
		why = "the login user may not use " + tool
		if p.user != "" {
			why += " to run commands as " + p.user
		}
	case st.needTTY:
		why = tool + " requires a terminal (requiretty) and none could be allocated"
	default:
		why = fmt.Sprintf("%s failed before running the command (exit %d)", tool, res.ExitCode)
	}
	if msg != "" {
		why += ": " + clipLine(msg, 300)
	}
	return &Error{Op: "become", Category: cat, Err: errors.New(why)}
}

// exitNotFound is a POSIX shell's exit status for a command it did not
// find (POSIX.1-2017 XCU 2.8.2, "Exit Status for Commands"): here sudo or
// doas itself, as the command they run is sh.
const exitNotFound = 127

func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// runPlain serves runners that cannot stream: the password line goes first
// on stdin, then the command's input.
func (p *privileged) runPlain(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	line, err := p.command(cmd, false, -1)
	if err != nil {
		return Result{}, err
	}
	in := stdin
	if p.b.Password != nil && p.b.Method == "sudo" {
		pass := append(append([]byte(nil), p.b.Password...), '\n')
		if stdin == nil {
			in = bytes.NewReader(pass)
		} else {
			in = io.MultiReader(bytes.NewReader(pass), stdin)
		}
	}
	res, err := p.r.Run(ctx, line, in)
	if err != nil {
		return res, err
	}
	before, after, found := bytes.Cut(res.Stderr, []byte(p.mark+"\n"))
	if found {
		res.Stderr = after
		return res, nil
	}
	st := state{before: bytes.ReplaceAll(before, []byte(p.prompt), nil), prompts: bytes.Count(before, []byte(p.prompt))}
	res.Stderr = st.before
	return res, p.failure(res, st)
}

type event int

const (
	evPrompt event = iota
	evWrong
	evStarted
	evForeign
)

// watcher reads what sudo and then the command print, telling the feeder
// when sudo prompts and when the command has started.
type watcher struct {
	p      *privileged
	mu     sync.Mutex
	feed   chan event
	closed bool
	pend   []byte        // unmatched tail before the marker
	out    limitedBuffer // sudo's messages, prompts removed
	rest   limitedBuffer // the command's output
	st     state
	gen    int // bumped by every write before the marker
}

// foreignQuiet is how long a question sudo printed must stay the last
// thing it printed before it counts as a question (a message written in
// pieces, "doas: " then the rest, is not one).
const foreignQuiet = 500 * time.Millisecond

// suspect arms the check that q is a question sudo waits on: when nothing
// else was printed in foreignQuiet, the feeder closes sudo's input.
func (w *watcher) suspect(q string) {
	gen := w.gen
	time.AfterFunc(foreignQuiet, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.gen == gen && !w.st.started && w.st.foreign == "" {
			w.st.foreign = q
			w.send(evForeign)
		}
	})
}

func (w *watcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.st.started {
		return w.rest.Write(b)
	}
	w.pend = append(w.pend, b...)
	for {
		pi := bytes.Index(w.pend, []byte(w.p.prompt))
		mi := bytes.Index(w.pend, []byte(w.p.mark+"\n"))
		mlen := len(w.p.mark) + 1
		if mi < 0 {
			// A PTY may turn the newline into CR LF.
			if j := bytes.Index(w.pend, []byte(w.p.mark+"\r\n")); j >= 0 {
				mi, mlen = j, mlen+1
			}
		}
		switch {
		case pi >= 0 && (mi < 0 || pi < mi):
			w.out.Write(w.pend[:pi])
			w.pend = w.pend[pi+len(w.p.prompt):]
			w.st.prompts++
			if w.st.prompts == 1 {
				w.send(evPrompt)
			} else {
				w.send(evWrong)
			}
		case mi >= 0:
			w.out.Write(w.pend[:mi])
			rest := w.pend[mi+mlen:]
			w.pend = nil
			w.st.started = true
			w.send(evStarted)
			w.rest.Write(rest)
			return len(b), nil
		default:
			w.gen++
			if q := w.foreignPrompt(); q != "" && w.st.foreign == "" {
				w.suspect(q)
			}
			// Keep a tail that could be the start of a prompt or marker.
			keep := max(len(w.p.prompt), len(w.p.mark)+2)
			if len(w.pend) > keep {
				w.out.Write(w.pend[:len(w.pend)-keep])
				w.pend = append([]byte(nil), w.pend[len(w.pend)-keep:]...)
			}
			return len(b), nil
		}
	}
}

func (w *watcher) send(e event) {
	if !w.closed {
		select {
		case w.feed <- e:
		default:
		}
	}
}

func (w *watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.feed)
	}
}

func (w *watcher) state() state {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	if !st.started {
		w.out.Write(w.pend)
	}
	st.before = w.out.b
	return st
}

// foreignPrompt returns the question sudo is waiting on when the text
// after its last line break is one: it ends like a prompt (": ", "? ",
// "> ", or the same without the blank) and is not the beginning of
// fleetclaim's own prompt or marker. A question is never followed by a
// line break until it is answered, so waiting for more would wait until
// --timeout; "" when there is none.
func (w *watcher) foreignPrompt() string {
	tail := w.pend
	if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:]
	} else if j := bytes.LastIndexByte(w.out.b, '\n'); len(w.out.b) > 0 {
		tail = append(append([]byte(nil), w.out.b[j+1:]...), tail...)
	}
	tail = bytes.TrimPrefix(tail, []byte("\r"))
	t := strings.TrimRight(string(tail), " \t")
	if t == "" || len(t) > 200 {
		return ""
	}
	switch t[len(t)-1] {
	case ':', '?', '>':
	default:
		return ""
	}
	if strings.HasPrefix(w.p.prompt, string(tail)) || strings.HasPrefix(w.p.mark, string(tail)) {
		return ""
	}
	return t
}
