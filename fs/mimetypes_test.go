package fs

import (
	"strings"
	"testing"
)

func TestContentType(t *testing.T) {
	system := parseMimeTypes(strings.NewReader("# comment\ntext/plain\t\ttxt text\ntext/x-first md\ntext/markdown md markdown\napplication/x-empty\n"))
	for _, c := range []struct {
		system    map[string]string
		key, want string
	}{
		{system, "a/notes.txt", "text/plain"},
		{system, "README.TXT", "text/plain"},
		{system, "doc.md", "text/x-first"},
		{system, "page.html", "text/html; charset=utf-8"}, // not in the file: Go's table
		{system, "blob.unknownext", "application/octet-stream"},
		{system, "noext", "application/octet-stream"},
		{nil, "a/notes.txt", "text/plain; charset=utf-8"},
	} {
		if got := contentTypeIn(c.system, c.key); got != c.want {
			t.Errorf("contentTypeIn(%v, %q): got %q, want %q", c.system != nil, c.key, got, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, c := range []struct {
		in        string
		sec, nsec int64
		zero      bool
	}{
		{"1700000000", 1700000000, 0, false},
		{"1700000000.25", 1700000000, 250000000, false},
		{"1700000000.123456789", 1700000000, 123456789, false},
		{"", 0, 0, true},
		{"0", 0, 0, true},
		{"junk", 0, 0, true},
	} {
		got := parseTime(c.in)
		if got.IsZero() != c.zero || !c.zero && (got.Unix() != c.sec || int64(got.Nanosecond()) != c.nsec) {
			t.Errorf("parseTime(%q): got %v, want %d.%09d (zero %v)", c.in, got, c.sec, c.nsec, c.zero)
		}
	}
}
