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

// done records op, begun at start, answered with *st; the operations
// defer it.
func (r rawFS) done(op string, start time.Time, st *fuse.Status) {
	r.m.fuseOps.WithLabelValues(op).Inc()
	r.m.fuseLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if *st != fuse.OK {
		r.m.fuseErrors.WithLabelValues(op, errnoName(*st)).Inc()
	}
}

func (r rawFS) Lookup(c <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) (st fuse.Status) {
	defer r.done("lookup", time.Now(), &st)
	return r.RawFileSystem.Lookup(c, h, name, out)
}

func (r rawFS) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) (st fuse.Status) {
	defer r.done("getattr", time.Now(), &st)
	return r.RawFileSystem.GetAttr(c, in, out)
}

func (r rawFS) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) (st fuse.Status) {
	defer r.done("setattr", time.Now(), &st)
	return r.RawFileSystem.SetAttr(c, in, out)
}

func (r rawFS) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) (st fuse.Status) {
	defer r.done("mkdir", time.Now(), &st)
	return r.RawFileSystem.Mkdir(c, in, name, out)
}

func (r rawFS) Unlink(c <-chan struct{}, h *fuse.InHeader, name string) (st fuse.Status) {
	defer r.done("unlink", time.Now(), &st)
	return r.RawFileSystem.Unlink(c, h, name)
}

func (r rawFS) Rmdir(c <-chan struct{}, h *fuse.InHeader, name string) (st fuse.Status) {
	defer r.done("rmdir", time.Now(), &st)
	return r.RawFileSystem.Rmdir(c, h, name)
}

func (r rawFS) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) (st fuse.Status) {
	defer r.done("rename", time.Now(), &st)
	return r.RawFileSystem.Rename(c, in, oldName, newName)
}

func (r rawFS) Symlink(c <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) (st fuse.Status) {
	defer r.done("symlink", time.Now(), &st)
	return r.RawFileSystem.Symlink(c, h, target, name, out)
}

func (r rawFS) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) (st fuse.Status) {
	defer r.done("create", time.Now(), &st)
	return r.RawFileSystem.Create(c, in, name, out)
}

func (r rawFS) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) (st fuse.Status) {
	defer r.done("open", time.Now(), &st)
	return r.RawFileSystem.Open(c, in, out)
}

func (r rawFS) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (res fuse.ReadResult, st fuse.Status) {
	defer r.done("read", time.Now(), &st)
	return r.RawFileSystem.Read(c, in, buf)
}

func (r rawFS) Write(c <-chan struct{}, in *fuse.WriteIn, data []byte) (n uint32, st fuse.Status) {
	defer r.done("write", time.Now(), &st)
	return r.RawFileSystem.Write(c, in, data)
}

func (r rawFS) Writev(c <-chan struct{}, in *fuse.WriteIn, data [][]byte) (n uint32, st fuse.Status) {
	defer r.done("write", time.Now(), &st)
	return r.RawFileSystem.Writev(c, in, data)
}

func (r rawFS) Flush(c <-chan struct{}, in *fuse.FlushIn) (st fuse.Status) {
	defer r.done("flush", time.Now(), &st)
	return r.RawFileSystem.Flush(c, in)
}

func (r rawFS) Fsync(c <-chan struct{}, in *fuse.FsyncIn) (st fuse.Status) {
	defer r.done("fsync", time.Now(), &st)
	return r.RawFileSystem.Fsync(c, in)
}

func (r rawFS) Release(c <-chan struct{}, in *fuse.ReleaseIn) {
	st := fuse.OK
	defer r.done("release", time.Now(), &st)
	r.RawFileSystem.Release(c, in)
}

func (r rawFS) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) (st fuse.Status) {
	defer r.done("opendir", time.Now(), &st)
	return r.RawFileSystem.OpenDir(c, in, out)
}

func (r rawFS) ReadDir(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) (st fuse.Status) {
	defer r.done("readdir", time.Now(), &st)
	return r.RawFileSystem.ReadDir(c, in, out)
}

func (r rawFS) ReadDirPlus(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) (st fuse.Status) {
	defer r.done("readdirplus", time.Now(), &st)
	return r.RawFileSystem.ReadDirPlus(c, in, out)
}

func (r rawFS) StatFs(c <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) (st fuse.Status) {
	defer r.done("statfs", time.Now(), &st)
	return r.RawFileSystem.StatFs(c, h, out)
}
