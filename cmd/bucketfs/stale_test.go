package main

import (
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
)

func TestMountedIn(t *testing.T) {
	const table = `22 1 0:21 / /proc rw,nosuid - proc proc rw
36 22 0:45 / /mnt/a\040b rw,relatime shared:1 - fuse.bucketfs bkt rw,user_id=0
37 22 0:46 / /mnt/x\134y rw - tmpfs tmpfs rw
38 22 0:47 / /mnt/plain rw - fuse.bucketfs bkt rw
39 38 0:48 / /mnt/plain rw - tmpfs tmpfs rw
`
	getMounts := func(f mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
		return mountinfo.GetMountsFromReader(strings.NewReader(table), f)
	}
	tests := []struct {
		dir, fstype string
		mounted     bool
	}{
		{"/mnt/a b", "fuse.bucketfs", true},
		{`/mnt/x\y`, "tmpfs", true},
		{"/mnt/plain", "fuse.bucketfs", true}, // the first of two stacked mounts
		{"/mnt/plain/", "fuse.bucketfs", true},
		{`/mnt/a\040b`, "", false},
		{"/mnt/a", "", false},
		{"/mnt", "", false},
	}
	for _, tt := range tests {
		fstype, mounted := mountedIn(getMounts, tt.dir)
		if fstype != tt.fstype || mounted != tt.mounted {
			t.Errorf("mountedIn(%q): got %q, %v; want %q, %v", tt.dir, fstype, mounted, tt.fstype, tt.mounted)
		}
	}
	if fstype, mounted := mountedIn(func(mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
		return mountinfo.GetMountsFromReader(strings.NewReader("36 22 0:45 / /mnt/a rw no separator\n"), nil)
	}, "/mnt/a"); mounted {
		t.Errorf("mountedIn on a malformed table: got %q, %v; want not mounted", fstype, mounted)
	}
}

func TestMountedAtProc(t *testing.T) {
	if _, mounted := mountedAt("/"); !mounted {
		t.Errorf("mountedAt(/): got not mounted, want mounted")
	}
	if fstype, mounted := mountedAt(t.TempDir()); mounted {
		t.Errorf("mountedAt(a fresh temporary directory): got %q, want not mounted", fstype)
	}
}
