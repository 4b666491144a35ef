package inventory

import (
	"fmt"
	"strings"
)

// Diagnostic is one problem found in an inventory, located like a compiler
// error: file, line, column, the key or value at fault, and what is wrong.
type Diagnostic struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	// Key is the setting or name at fault ("rooms", "groups.web.children").
	Key string `json:"key,omitempty"`
	Msg string `json:"message"`
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d", d.Line)
		if d.Col > 0 {
			fmt.Fprintf(&b, ":%d", d.Col)
		}
	}
	b.WriteString(": ")
	if d.Key != "" {
		b.WriteString(d.Key)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Errors is every problem found in one pass over an inventory. Loading never
// stops at the first one.
type Errors []Diagnostic

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}
