package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a config file, located by file, line and
// key path (for example "clients[1].realm").
type Error struct {
	File string
	Line int // 0 when the problem has no line (an unreadable file, an override)
	Path string
	Msg  string

	err error // the underlying error, if any, for errors.Is/As
}

// Error renders the problem as "FILE:LINE: key.path: message", leaving out
// the line or the path when they are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in one config file. Load and Parse return
// it, sorted by line, whenever the file is not valid.
type Errors []*Error

// Error renders one problem per line, sorted by line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es.sorted() {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so errors.Is and errors.As look into each.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted returns a copy ordered by line; problems on one line keep the order
// they were found in.
func (es Errors) sorted() Errors {
	out := append(Errors(nil), es...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}
