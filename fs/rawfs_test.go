package fs

import (
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// The notExact timeouts of READDIRPLUS entries go to the kernel as zero;
// other timeouts are left alone, and every entry is found whatever its
// name's length.
func TestExactPlusEntries(t *testing.T) {
	names := []string{"a", "name-of-seven", "12345678", ""}
	timeouts := []time.Duration{notExact, time.Second, notExact, 0}
	l := fuse.NewDirEntryList(make([]byte, 4096), 0)
	for i, name := range names {
		if name == "" {
			name = "x"
		}
		out := l.AddDirLookupEntry(fuse.DirEntry{Name: name, Mode: fuse.S_IFREG, Ino: uint64(i + 1)})
		if out == nil {
			t.Fatal("no room")
		}
		out.NodeId = uint64(i + 10)
		out.SetAttrTimeout(timeouts[i])
	}
	exactPlusEntries(l.Bytes())
	entries, outs, err := fuse.ParseDirLookupEntries(l.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(names) {
		t.Fatalf("%d entries, want %d", len(outs), len(names))
	}
	for i, out := range outs {
		want := timeouts[i]
		if want == notExact {
			want = 0
		}
		if got := out.AttrTimeout(); got != want || out.NodeId != uint64(i+10) || entries[i].Ino != uint64(i+1) {
			t.Errorf("entry %d (%s): timeout %v, node %d; want %v, node %d", i, entries[i].Name, got, out.NodeId, want, i+10)
		}
	}
}
