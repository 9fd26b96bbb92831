package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  string
	}{
		{"0", 0, ""},
		{"4096", 4096, ""},
		{"512KiB", 512 * 1024, ""},
		{"1MiB", 1 << 20, ""},
		{"1 MiB", 1 << 20, ""},
		{"2gib", 2 << 30, ""},
		{"64kB", 64000, ""},
		{"64KB", 64000, ""},
		{"3MB", 3000000, ""},
		{"1GB", 1000000000, ""},
		{"10B", 10, ""},
		{"1.5KiB", 1536, ""},
		{"0.5MiB", 512 * 1024, ""},
		{" 7 ", 7, ""},
		{"1.1kB", 1100, ""},
		{"1.3B", 0, "not a whole number of bytes"},
		{"-1KiB", 0, "must not be negative"},
		{"1 MeB", 0, "unknown unit \"MeB\""},
		{"MiB", 0, "expected a number followed by a unit"},
		{"1..2KiB", 0, "expected a number"},
		{".", 0, "expected a number"},
		{"", 0, "expected a number"},
		{"1e3", 0, "unknown unit \"e3\""},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "too large"},
		{"8589934592GiB", 0, "too large"},
	} {
		got, err := ParseByteSize(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseByteSize(%q) = %d, %v; want error %q", tc.in, got, err, tc.err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for b, want := range map[ByteSize]string{0: "0B", 1000: "1000B", 1024: "1KiB", 256 * KiB: "256KiB", MiB: "1MiB", 3 * GiB: "3GiB", 1536: "1536B"} {
		if got := b.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(b), got, want)
		}
		back, err := ParseByteSize(want)
		if err != nil || back != b {
			t.Errorf("ParseByteSize(%q) = %d, %v", want, back, err)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"1s", time.Second, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"'1h30m'", 90 * time.Minute, ""},
		{"-5s", -5 * time.Second, ""}, // the validator rejects it where it matters
		{"5", 0, "duration 5 has no unit: add one, e.g. \"5s\""},
		{"1.5", 0, "duration 1.5 has no unit"},
		{"'30'", 0, "duration 30 has no unit"},
		{"0", 0, "has no unit"},
		{"5 sec", 0, "invalid duration \"5 sec\""},
		{"true", 0, "expected a duration"},
		{"{a: 1}", 0, "expected a duration"},
	} {
		var d Duration
		err := yaml.Unmarshal([]byte(tc.in), &d)
		switch {
		case tc.err == "" && (err != nil || d.Duration() != tc.want):
			t.Errorf("%q: got %v, %v; want %v", tc.in, d, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got %v, %v; want error %q", tc.in, d, err, tc.err)
		}
	}
}

func TestWorkersYAML(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Workers
		err  string
	}{
		{"64", 64, ""},
		{"0", 0, ""}, // the validator rejects it
		{"[1000, 2000, 3000]", 3, ""},
		{"[a]", 1, ""},
		{"- 1\n- 2\n", 2, ""},
		{"[]", 0, "empty list"},
		{"'64'", 0, "expected a number of worker slots"},
		{"6.4", 0, "expected a number of worker slots"},
		{"{n: 1}", 0, "expected a number of worker slots"},
		{"[[1]]", 0, "items must be scalars"},
		{"99999999999999999999", 0, "out of range"},
	} {
		var w Workers
		err := yaml.Unmarshal([]byte(tc.in), &w)
		switch {
		case tc.err == "" && (err != nil || w != tc.want):
			t.Errorf("%q: got %d, %v; want %d", tc.in, w, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got %d, %v; want error %q", tc.in, w, err, tc.err)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"poll_interval", "poll_timeout", "batch_size"}
	for in, want := range map[string]string{"pol_interval": "poll_interval", "Poll_Timeout": "poll_timeout", "batchsize": "batch_size", "zzz": "", "x": ""} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Minute: "1m", time.Hour: "1h", 90 * time.Minute: "1h30m", 5 * time.Second: "5s",
		250 * time.Millisecond: "250ms", time.Hour + time.Second: "1h0m1s", -time.Minute: "-1m",
	} {
		got := Duration(d).String()
		back, err := time.ParseDuration(got)
		if got != want || err != nil || back != d {
			t.Errorf("Duration(%v).String() = %q (parses back as %v, %v), want %q", d, got, back, err, want)
		}
	}
}
