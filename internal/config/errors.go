package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem found in a configuration. The errors returned
// by [Load], [Parse] and [Config.Validate] join one FieldError per problem
// (errors.Join); use errors.As to reach one, or the package function
// [Problems] to list them all.
type FieldError struct {
	// File is the path given to Load; empty for Parse and Validate.
	File string
	// Path is the key path, e.g. "rpc.assistant[1].port" or
	// "fetch.resolve[0]"; empty for a problem with the whole document.
	Path string
	// Line is the 1-based line in the file, 0 when unknown (Validate).
	Line int
	// Msg says what is wrong, e.g. "required".
	Msg string

	unknownKey bool   // Msg is about Path not being part of the schema
	hint       string // appended after the line, e.g. `did you mean "x"?`
}

// Error formats the problem as "FILE: PATH: MSG (line N)", or for an unknown
// key as `FILE: unknown key "PATH" (line N)`, leaving out the parts that are
// empty.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	switch {
	case e.unknownKey:
		fmt.Fprintf(&b, "unknown key %q", e.Path)
	case e.Path != "":
		b.WriteString(e.Path)
		b.WriteString(": ")
		b.WriteString(e.Msg)
	default:
		b.WriteString(e.Msg)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.hint != "" {
		b.WriteString(", ")
		b.WriteString(e.hint)
	}
	return b.String()
}

// Problems returns the FieldErrors joined in err (in order), or nil.
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// joinProblems sorts problems by line (unknown lines last, otherwise stable)
// and joins them; nil for none.
func joinProblems(ps []*FieldError) error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b *FieldError) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		return cmp.Compare(la, lb)
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// problemList collects FieldErrors.
type problemList struct {
	ps []*FieldError
}

func (l *problemList) add(path, format string, args ...any) {
	l.ps = append(l.ps, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (l *problemList) addLine(path string, line int, format string, args ...any) {
	l.ps = append(l.ps, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}
