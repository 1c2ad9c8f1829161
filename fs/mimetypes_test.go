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
