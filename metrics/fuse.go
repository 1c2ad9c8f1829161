package metrics

import (
	"strconv"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// errnoName is the errno's symbol (EIO, ENOENT), else its number.
func errnoName(st fuse.Status) string {
	if name := unix.ErrnoName(syscall.Errno(st)); name != "" {
		return name
	}
	return strconv.Itoa(int(st))
}

// RawFS wraps fs so that the operations that carry the filesystem's work
// are counted, timed, and their errors counted by errno. The others
// (FORGET, locks, ioctl...) pass through uncounted.
func (m *Metrics) RawFS(fs fuse.RawFileSystem) fuse.RawFileSystem {
	return rawFS{RawFileSystem: fs, m: m}
}

type rawFS struct {
	fuse.RawFileSystem
	m *Metrics
}

// done records op, begun at start, answered with st.
func (r rawFS) done(op string, start time.Time, st fuse.Status) {
	r.m.fuseOps.WithLabelValues(op).Inc()
	r.m.fuseLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if st != fuse.OK {
		r.m.fuseErrors.WithLabelValues(op, errnoName(st)).Inc()
	}
}

func (r rawFS) Lookup(c <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Lookup(c, h, name, out)
	r.done("lookup", start, st)
	return st
}

func (r rawFS) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.GetAttr(c, in, out)
	r.done("getattr", start, st)
	return st
}

func (r rawFS) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.SetAttr(c, in, out)
	r.done("setattr", start, st)
	return st
}

func (r rawFS) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Mkdir(c, in, name, out)
	r.done("mkdir", start, st)
	return st
}

func (r rawFS) Unlink(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Unlink(c, h, name)
	r.done("unlink", start, st)
	return st
}

func (r rawFS) Rmdir(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Rmdir(c, h, name)
	r.done("rmdir", start, st)
	return st
}

func (r rawFS) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Rename(c, in, oldName, newName)
	r.done("rename", start, st)
	return st
}

func (r rawFS) Symlink(c <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Symlink(c, h, target, name, out)
	r.done("symlink", start, st)
	return st
}

func (r rawFS) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Create(c, in, name, out)
	r.done("create", start, st)
	return st
}

func (r rawFS) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Open(c, in, out)
	r.done("open", start, st)
	return st
}

func (r rawFS) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	start := time.Now()
	res, st := r.RawFileSystem.Read(c, in, buf)
	r.done("read", start, st)
	return res, st
}

func (r rawFS) Write(c <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	start := time.Now()
	n, st := r.RawFileSystem.Write(c, in, data)
	r.done("write", start, st)
	return n, st
}

func (r rawFS) Writev(c <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	start := time.Now()
	n, st := r.RawFileSystem.Writev(c, in, data)
	r.done("write", start, st)
	return n, st
}

func (r rawFS) Flush(c <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Flush(c, in)
	r.done("flush", start, st)
	return st
}

func (r rawFS) Fsync(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.Fsync(c, in)
	r.done("fsync", start, st)
	return st
}

func (r rawFS) Release(c <-chan struct{}, in *fuse.ReleaseIn) {
	start := time.Now()
	r.RawFileSystem.Release(c, in)
	r.done("release", start, fuse.OK)
}

func (r rawFS) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.OpenDir(c, in, out)
	r.done("opendir", start, st)
	return st
}

func (r rawFS) ReadDir(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.ReadDir(c, in, out)
	r.done("readdir", start, st)
	return st
}

func (r rawFS) ReadDirPlus(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.ReadDirPlus(c, in, out)
	r.done("readdirplus", start, st)
	return st
}

func (r rawFS) StatFs(c <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	start := time.Now()
	st := r.RawFileSystem.StatFs(c, h, out)
	r.done("statfs", start, st)
	return st
}
