package export

import (
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{{}, {XID: 1, Token: 0}, {XID: 774120, Token: 40317}, {XID: 1<<64 - 1, Token: 1<<63 - 1}} {
		got, err := ParseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
	for _, bad := range []string{"x", "1", "1.", ".1", "1.-2", "-1.2", "1.2.3", " 1.2", "1.2 "} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
	if c, err := ParseCursor(""); err != nil || c != (Cursor{}) {
		t.Errorf(`ParseCursor("") = %+v, %v; want the start`, c, err)
	}
	if !(Cursor{XID: 2, Token: 1}).After(Cursor{XID: 1, Token: 9}) || (Cursor{XID: 1, Token: 1}).After(Cursor{XID: 1, Token: 1}) {
		t.Error("After does not order by (XID, Token)")
	}
}

// FuzzParseCursor: whatever the input, a cursor that parses prints back
// to a string that parses to the same cursor.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "774120.40317", "0.0", "18446744073709551615.9223372036854775807", "1.2.3", "+1.2", "01.02"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		again, err := ParseCursor(c.String())
		if err != nil || again != c {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, c, c.String(), again, err)
		}
	})
}
