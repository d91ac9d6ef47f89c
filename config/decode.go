package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file walks a yaml.Node tree into the file* structs by their yaml
// tags, strictly: unknown and duplicate keys, wrong node kinds and scalars
// that do not parse are reported with their line, and decoding goes on so
// that every problem is found in one pass. Every scalar goes through ${NAME}
// expansion first. The line of every key and list item is recorded by key
// path, so that later checks can point at the offending line.

var durationType = reflect.TypeFor[time.Duration]()

// decode decodes n into v, whose key path is path. A null node leaves v as
// it is, so defaults survive "key:" with no value.
func (l *loader) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if s, ok := v.Addr().Interface().(scalarSetter); ok {
		if str, ok := l.scalar(n, path, s.want()); ok {
			if err := s.setScalar(str); err != nil {
				l.errorAt(n.Line, path, "%v", err)
			}
		}
		return
	}
	if v.Type() == durationType {
		if str, ok := l.scalar(n, path, "a duration like 90s, 15m or 720h"); ok {
			d, err := time.ParseDuration(str)
			if err != nil {
				l.errorAt(n.Line, path, "must be a duration like 90s, 15m or 720h, got %q", str)
				return
			}
			v.SetInt(int64(d))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		l.decodeMapping(n, v, path)
	case reflect.Slice:
		l.decodeList(n, v, path)
	case reflect.String:
		if str, ok := l.scalar(n, path, "a string"); ok {
			v.SetString(str)
		}
	case reflect.Bool:
		if str, ok := l.scalar(n, path, "true or false"); ok {
			switch str {
			case "true", "True", "TRUE":
				v.SetBool(true)
			case "false", "False", "FALSE":
				v.SetBool(false)
			default:
				l.errorAt(n.Line, path, "must be true or false, got %q", str)
			}
		}
	case reflect.Int:
		if str, ok := l.scalar(n, path, "a whole number"); ok {
			i, err := strconv.Atoi(str)
			if err != nil {
				l.errorAt(n.Line, path, "must be a whole number, got %q", str)
				return
			}
			v.SetInt(int64(i))
		}
	default:
		panic(fmt.Sprintf("config: no decoder for %s at %s", v.Type(), path))
	}
}

// decodeMapping decodes a mapping node into the struct v.
func (l *loader) decodeMapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		l.errorAt(n.Line, path, "must be a mapping of keys (key: value), got %s", l.describe(n, path))
		return
	}
	t := v.Type()
	fields := make(map[string]int, t.NumField())
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("yaml")
		fields[name] = i
		names = append(names, name)
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		child := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			l.errorAt(k.Line, path, "a key must be a plain name, got %s", l.describe(k, path))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.errorAt(k.Line, child, "duplicate key (first given at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			l.errorAt(k.Line, child, "unknown key (allowed here: %s)", strings.Join(names, ", "))
			continue
		}
		l.pos[child] = k.Line
		l.decode(val, v.Field(idx), child)
	}
}

// decodeList decodes a sequence node into the slice v. Items of a type with
// defaults get them before being decoded.
func (l *loader) decodeList(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		l.errorAt(n.Line, path, "must be a list like [a, b] or \"- item\" lines, got %s", l.describe(n, path))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		child := fmt.Sprintf("%s[%d]", path, i)
		l.pos[child] = item.Line
		elem := reflect.New(v.Type().Elem())
		if d, ok := elem.Interface().(defaulter); ok {
			d.setDefaults()
		}
		l.decode(item, elem.Elem(), child)
		out = reflect.Append(out, elem.Elem())
	}
	v.Set(out)
}

// scalar returns the ${NAME}-expanded text of a scalar node, or reports
// that n is not a scalar or does not expand.
func (l *loader) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		l.errorAt(n.Line, path, "must be %s, got %s", want, l.describe(n, path))
		return "", false
	}
	s, err := expand(n.Value, l.env)
	if err != nil {
		l.errorAt(n.Line, path, "%v", err)
		return "", false
	}
	return s, true
}

// sensitiveKeys are the keys whose values never appear in a message.
var sensitiveKeys = map[string]bool{"secret": true, "secret_hash": true, "key": true, "key_hash": true, "pem": true, "dsn": true}

// describe names what a node is for a message. A scalar is quoted only when
// it is short, on one line and not under a sensitive key.
func (l *loader) describe(n *yaml.Node, path string) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	last := path[strings.LastIndexAny(path, ".]")+1:]
	if len(n.Value) > 32 || strings.ContainsAny(n.Value, "\r\n") || sensitiveKeys[last] {
		return "a string"
	}
	return strconv.Quote(n.Value)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// expand replaces each ${NAME} in s with the variable's value; "$$" is a
// literal "$", and any other "$" stays as it is (so argon2id PHC strings need
// no escaping). An unset variable is an error.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case s[i] != '$':
			b.WriteByte(s[i])
			i++
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf(`unterminated "${" (write ${NAME}, or "$$" for a literal "$")`)
			}
			name := s[i+2 : i+end]
			if !isEnvName(name) {
				return "", fmt.Errorf(`"${%s}" is not a variable reference (write ${NAME} with letters, digits and _, or "$$" for a literal "$")`, name)
			}
			val, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf(`environment variable %s is not set (set it, or write "$$" for a literal "$")`, name)
			}
			b.WriteString(val)
			i += end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if c != '_' && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
