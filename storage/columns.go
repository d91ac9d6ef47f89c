package storage

import (
	"fmt"
	"unicode/utf8"
)

// column is a text value bound for a column, with what the column holds.
type column struct {
	name     string
	value    string
	max      int // characters
	required bool
}

// checkColumns refuses, before any query, a value its column cannot hold:
// invalid UTF-8, a required value that is empty, or more than max
// characters. The error wraps ErrInvalidInput and names op and the column.
func checkColumns(op string, cols ...column) error {
	for _, f := range cols {
		switch {
		case !utf8.ValidString(f.value):
			return fmt.Errorf("%w: %s: %s is not valid UTF-8", ErrInvalidInput, op, f.name)
		case f.required && f.value == "":
			return fmt.Errorf("%w: %s: %s is required", ErrInvalidInput, op, f.name)
		case utf8.RuneCountInString(f.value) > f.max:
			return fmt.Errorf("%w: %s: %s longer than %d characters", ErrInvalidInput, op, f.name, f.max)
		}
	}
	return nil
}

// fitsKey reports whether a lookup key can be in a column of max
// characters: not empty, valid UTF-8 and not too long. A key that cannot
// is not looked up: no row has it.
func fitsKey(value string, max int) bool {
	return value != "" && utf8.ValidString(value) && utf8.RuneCountInString(value) <= max
}
