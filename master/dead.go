package master

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/crawlmaster/crawlmaster/master/store"
)

// deadErrorWidth is how many characters of a last error `master dead list`
// shows.
const deadErrorWidth = 80

// ListDead prints up to limit dead URLs (only those of class, when class is
// not empty) and the dead counts by class: `master dead list`.
func ListDead(ctx context.Context, st *store.Store, w io.Writer, class string, limit int) error {
	list, err := st.DeadList(ctx, class, limit)
	if err != nil {
		return err
	}
	counts, err := st.DeadCounts(ctx)
	if err != nil {
		return err
	}
	return WriteDead(w, list, counts, class)
}

// RetryDead requeues dead URLs (only those of class, when class is not
// empty) and prints how many: `master dead retry`.
func RetryDead(ctx context.Context, st *store.Store, w io.Writer, class string) error {
	n, err := st.DeadRetry(ctx, class)
	if err != nil {
		return err
	}
	var counts map[string]int64
	if n == 0 && class != "" {
		if counts, err = st.DeadCounts(ctx); err != nil {
			return err
		}
	}
	return WriteRetried(w, n, class, counts)
}

// WriteDead prints dead URLs as a table, newest first as given, then a
// summary of every dead URL by class (counts covers all of them, not only
// the listed ones) and how to requeue them. class is the filter the list
// was made with ("" for none).
func WriteDead(w io.Writer, list []store.DeadURL, counts map[string]int64, class string) error {
	var total int64
	for _, n := range counts {
		total += n
	}
	if len(list) == 0 {
		var err error
		if class == "" || total == 0 {
			_, err = fmt.Fprintln(w, "no dead URLs")
		} else {
			_, err = fmt.Fprintf(w, "0 dead URLs with class %s (classes present: %s)\n", class, deadClassNames(counts))
		}
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "url\tattempts\tclass\tdead since\tlast error")
	for _, d := range list {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", deadCell(d.URL, 0), d.Attempts, deadClassName(d.Class),
			d.Since.Local().Format(time.DateTime), deadCell(d.Error, deadErrorWidth))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	of, what := total, "dead URLs"
	if class != "" {
		of, what = counts[class], "dead URLs with class "+class
	}
	fmt.Fprintf(w, "\nshowing %d of %d %s, newest first\n", len(list), of, what)
	fmt.Fprintf(w, "%d dead URLs by class: %s\n", total, deadClassCounts(counts))
	_, err := fmt.Fprintln(w, "requeue with: master dead retry [--class C]")
	return err
}

// WriteRetried prints the outcome of a requeue of n dead URLs. When none of
// class was found, counts (all dead URLs by class) names the classes there
// are.
func WriteRetried(w io.Writer, n int64, class string, counts map[string]int64) error {
	var err error
	switch {
	case n == 0 && class != "":
		_, err = fmt.Fprintf(w, "0 dead URLs with class %s (classes present: %s)\n", class, deadClassNames(counts))
	case n == 0:
		_, err = fmt.Fprintln(w, "no dead URLs to requeue")
	case class != "":
		_, err = fmt.Fprintf(w, "requeued %d dead URLs with class %s: pending again, attempts reset, due now\n", n, class)
	default:
		_, err = fmt.Fprintf(w, "requeued %d dead URLs: pending again, attempts reset, due now\n", n)
	}
	return err
}

// deadByCount returns the classes of counts, the most frequent first (ties by
// name).
func deadByCount(counts map[string]int64) []string {
	return slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
}

// deadClassCounts formats counts as "timeout 3, http_5xx 2".
func deadClassCounts(counts map[string]int64) string {
	var parts []string
	for _, c := range deadByCount(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", deadClassName(c), counts[c]))
	}
	return strings.Join(parts, ", ")
}

// deadClassNames formats the classes of counts in name order, or "none".
func deadClassNames(counts map[string]int64) string {
	if len(counts) == 0 {
		return "none"
	}
	names := slices.Sorted(maps.Keys(counts))
	for i, c := range names {
		names[i] = deadClassName(c)
	}
	return strings.Join(names, ", ")
}

// deadClassName shows the empty class as "(none)".
func deadClassName(class string) string {
	if class == "" {
		return "(none)"
	}
	return class
}

// deadCell makes s fit one table cell: control characters (tabs, newlines)
// become spaces, runs of spaces collapse, and with width > 3 it is cut to
// width characters, the last three being "...".
func deadCell(s string, width int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if width <= 3 {
		return s
	}
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-3]) + "..."
}
