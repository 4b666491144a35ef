// Package sshconfig resolves ssh_config files the way OpenSSH's ssh does
// (readconf.c and ssh.c of OpenSSH 9.2p1): Host and Match blocks, Include,
// first-value-wins, the final pass that "Match final" asks for, and the %
// tokens of ssh_config(5). Real ssh -G is the test oracle.
package sshconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrSyntax marks a line ssh itself would refuse.
var ErrSyntax = errors.New("ssh_config syntax")

// LineError is a problem on one line of one file.
type LineError struct {
	File    string
	Line    int
	Keyword string
	Err     error
}

func (e *LineError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Keyword != "" {
		where += ": " + e.Keyword
	}
	return where + ": " + e.Err.Error()
}

func (e *LineError) Unwrap() error { return e.Err }

func syntaxError(file string, line int, kw, format string, a ...any) error {
	return &LineError{File: file, Line: line, Keyword: kw, Err: fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, a...))}
}

// line is one directive of a file.
type line struct {
	num  int
	kw   string   // lower case
	args []string // split as OpenSSH's argv_split does
	rest string   // the text after the keyword (ProxyCommand, Match)
}

type file struct {
	path  string
	lines []line
}

const whitespace = " \t\r\n"

// parseFile reads one file; a missing file is not an error (ssh skips it).
func parseFile(path string) (*file, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseBytes(path, data)
}

func parseBytes(path string, data []byte) (*file, error) {
	f := &file{path: path}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, syntaxError(path, n, "", "%v", err)
		}
		if ok {
			l.num = n
			f.lines = append(f.lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// parseLine splits a line into keyword and arguments (readconf.c
// process_config_line_depth): trailing white space stripped, the keyword
// ended by white space or one '=', comments and empty lines skipped.
func parseLine(s string) (line, bool, error) {
	s = strings.TrimRight(s, whitespace+"\f")
	s = strings.TrimLeft(s, whitespace)
	if s == "" || s[0] == '#' {
		return line{}, false, nil
	}
	i := strings.IndexAny(s, whitespace+"=\"")
	kw, rest := s, ""
	if i >= 0 {
		kw, rest = s[:i], s[i:]
		// One '=' with white space around it may separate keyword and value.
		rest = strings.TrimLeft(rest, whitespace)
		if strings.HasPrefix(rest, "=") {
			rest = strings.TrimLeft(rest[1:], whitespace)
		}
	}
	if kw == "" {
		return line{}, false, nil
	}
	kw = strings.ToLower(kw)
	if rest == "" {
		return line{}, false, fmt.Errorf("no argument after keyword %q", kw)
	}
	args, err := argvSplit(rest)
	if err != nil {
		return line{}, false, err
	}
	if len(args) == 0 {
		// "Port #": the comment leaves no argument, which every reader
		// of a value takes for granted (readconf.c: Missing argument).
		return line{}, false, fmt.Errorf("no argument after keyword %q", kw)
	}
	return line{kw: kw, args: args, rest: rest}, true, nil
}

// argvSplit is OpenSSH's argv_split with terminate_on_comment (misc.c).
func argvSplit(s string) ([]string, error) {
	var argv []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg strings.Builder
		var quote byte
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				goto done
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				arg.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errors.New("invalid quotes")
		}
	done:
		argv = append(argv, arg.String())
	}
	return argv, nil
}

// strdelim is OpenSSH's strdelim (misc.c): the next word of *s, split on
// white space or one '=', a double-quoted word taken whole. ok is false
// when nothing is left; bad when a quote is not closed.
func strdelim(s *string) (word string, ok, bad bool) {
	if *s == "" {
		return "", false, false
	}
	old := *s
	i := strings.IndexAny(old, whitespace+"\"=")
	if i < 0 {
		*s = ""
		return old, true, false
	}
	if old[i] == '"' {
		rest := old[i+1:]
		j := strings.IndexByte(rest, '"')
		if j < 0 {
			*s = ""
			return "", false, true
		}
		word = old[:i] + rest[:j]
		*s = strings.TrimLeft(rest[j+1:], whitespace)
		return word, true, false
	}
	eq := old[i] == '='
	word = old[:i]
	r := strings.TrimLeft(old[i+1:], whitespace)
	if !eq && strings.HasPrefix(r, "=") {
		r = strings.TrimLeft(r[1:], whitespace)
	}
	*s = r
	return word, true, false
}
