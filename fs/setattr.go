package fs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// metaChanges reports whether in changes mode, owner, mtime or atime,
// which live in object metadata.
func metaChanges(in *fuse.SetAttrIn) bool {
	_, mode := in.GetMode()
	_, uid := in.GetUID()
	_, gid := in.GetGID()
	_, mtime := in.GetMTime()
	_, atime := in.GetATime()
	return mode || uid || gid || mtime || atime
}

// applySetattr returns m changed as in says; kind is the file type bits
// stored with a new mode.
func applySetattr(m *Meta, in *fuse.SetAttrIn, kind uint32) *Meta {
	if mode, ok := in.GetMode(); ok {
		m.Mode = kind | mode&0o7777
	}
	if uid, ok := in.GetUID(); ok {
		m.UID = int64(uid)
	}
	if gid, ok := in.GetGID(); ok {
		m.GID = int64(gid)
	}
	if mtime, ok := in.GetMTime(); ok {
		m.Mtime = mtime
	}
	if atime, ok := in.GetATime(); ok {
		m.Atime = atime
	}
	m.Ctime = time.Now() // every change of metadata moves ctime
	return m
}
