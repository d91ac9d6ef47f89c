package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes and validates the config file at path. lookupEnv
// resolves ${NAME} references and the LATCHKEY_* overrides (os.LookupEnv in
// production; nil means an empty environment). pem_file paths are relative
// to the file's directory. On failure the error is Errors, with every
// problem found.
func Load(path string, lookupEnv func(string) (string, bool)) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read the config file: %v", err), err: err}}
	}
	return Parse(path, data, filepath.Dir(path), lookupEnv)
}

// Parse decodes and validates config data named filename (used in messages
// and as Snapshot.Source); relative pem_file paths are resolved against
// baseDir. See Load.
func Parse(filename string, data []byte, baseDir string, lookupEnv func(string) (string, bool)) (*Snapshot, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	l := &loader{
		file:       filename,
		baseDir:    baseDir,
		env:        lookupEnv,
		pos:        map[string]int{},
		overridden: map[string]string{},
	}
	fc := defaultFile()
	root, ok := l.parseYAML(data)
	if !ok {
		return nil, l.errs // a file that is not YAML: checking further only adds noise
	}
	if root != nil {
		l.pos[""] = root.Line
		l.decode(root, reflect.ValueOf(&fc).Elem(), "")
	}
	l.applyOverrides(&fc)
	snap := l.build(&fc)
	if len(l.errs) > 0 {
		return nil, l.errs.sorted()
	}
	snap.Source = filename
	for _, w := range l.warns.sorted() {
		snap.Warnings = append(snap.Warnings, w.Error())
	}
	snap.index()
	return snap, nil
}

// loader holds the state of one Parse: where each key was, and what went
// wrong.
type loader struct {
	file    string
	baseDir string
	env     func(string) (string, bool)

	pos        map[string]int    // key path → line of its key or list item
	overridden map[string]string // key path → the LATCHKEY_* variable that set it
	errs       Errors
	warns      Errors

	// filled by build, for reference checks
	realmIDs  []string           // valid realm ids, in file order
	clientIDs []string           // valid client ids, in file order
	clients   map[string]*Client // by id
}

// errorAt records a problem at an explicit line.
func (l *loader) errorAt(line int, path, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errorf records a problem at the line of path (or of its nearest parent
// that appears in the file). A value that came from a LATCHKEY_* override
// says so, without a line.
func (l *loader) errorf(path, format string, args ...any) {
	msg, line := fmt.Sprintf(format, args...), l.line(path)
	if v := l.overridden[path]; v != "" {
		msg, line = msg+" (value from "+v+")", 0
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Msg: msg})
}

// warnf records a non-fatal finding at the line of path.
func (l *loader) warnf(path, format string, args ...any) {
	l.warns = append(l.warns, &Error{File: l.file, Line: l.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of path, or of its nearest parent in the file.
func (l *loader) line(path string) int {
	for {
		if line, ok := l.pos[path]; ok {
			return line
		}
		if path == "" {
			return 0
		}
		path = path[:max(strings.LastIndexAny(path, ".["), 0)]
	}
}

var (
	yamlLineRe = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)
	// Parser (not scanner) errors: yaml.v3 numbers their lines from 0, and
	// names the line where the enclosing mapping or sequence starts when that
	// is not the first line, rather than the line of the offending token.
	yamlParserErrRe = regexp.MustCompile(`^did not find expected (key|node content|<document start>|'-' indicator|',' or)`)
)

// parseYAML returns the root node of the single document in data (nil for
// an empty file).
func (l *loader) parseYAML(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		l.yamlError(err, data)
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		l.errorAt(extra.Line, "", "a second YAML document (after ---); the config is one document")
		return nil, false
	case !errors.Is(err, io.EOF):
		l.yamlError(err, data)
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, true
	}
	return root, true
}

// yamlError records a YAML syntax error at its line.
func (l *loader) yamlError(err error, data []byte) {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if yamlParserErrRe.MatchString(m[2]) {
			line = yamlProblemLine(data, m[2], line+1)
		}
		l.errorAt(line, "", "YAML syntax: %s", m[2])
		return
	}
	l.errorAt(0, "", "YAML syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

// yamlProblemLine finds the line of the token that a parser error is about:
// the first line n such that the file's first n lines alone fail with the
// same message. (A prefix ending at a line boundary closes every block
// mapping and sequence, so it parses until it holds the offending token.)
// It returns fallback when no prefix fails that way.
func yamlProblemLine(data []byte, msg string, fallback int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	for n := 1; n <= len(lines); n++ {
		if yamlErrorMessage(bytes.Join(lines[:n], nil)) == msg {
			return n
		}
	}
	return fallback
}

// yamlErrorMessage returns the message of the first syntax error in data,
// without yaml.v3's "yaml: line N: " prefix, or "" when data parses.
func yamlErrorMessage(data []byte) string {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
				return m[2]
			}
			return strings.TrimPrefix(err.Error(), "yaml: ")
		}
	}
}

// Environment variables that override the file.
const (
	EnvIssuer         = "LATCHKEY_ISSUER"
	EnvListen         = "LATCHKEY_LISTEN"
	EnvDatabaseDriver = "LATCHKEY_DATABASE_DRIVER"
	EnvDatabaseDSN    = "LATCHKEY_DATABASE_DSN"
)

// applyOverrides replaces file values with the LATCHKEY_* variables that are
// set and not empty.
func (l *loader) applyOverrides(fc *fileConfig) {
	for _, o := range []struct {
		env, path string
		dst       *string
	}{
		{EnvIssuer, "issuer", &fc.Issuer},
		{EnvListen, "listen", &fc.Listen},
		{EnvDatabaseDriver, "database.driver", &fc.Database.Driver},
		{EnvDatabaseDSN, "database.dsn", &fc.Database.DSN},
	} {
		if v, ok := l.env(o.env); ok && v != "" {
			*o.dst = v
			l.overridden[o.path] = o.env
		}
	}
}
