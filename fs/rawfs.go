package fs

import (
	"encoding/binary"
	"time"
	"unsafe"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// notExact is the attribute timeout that nodes give attributes lacking
// the object's metadata (lazy lookups). go-fuse would replace a zero
// timeout by its default, and the kernel rounds any other up to a jiffy,
// during which a stat would show the guessed mode: NewRawFS turns this
// one value into a true zero on its way to the kernel.
const notExact = time.Nanosecond

// NewRawFS is go-fuse's NewNodeFS for root, with two changes on the way
// to the kernel:
//   - the attribute timeouts of lazy lookups (notExact), of LOOKUP,
//     GETATTR and each entry of READDIRPLUS, are sent as zero: the
//     kernel then asks for the attributes again at the first stat, which
//     fetches the metadata;
//   - getxattr and listxattr answer ENOSYS (no xattrs are stored, see
//     xattr.go), which the kernel remembers for the mount: it then
//     answers them itself (EOPNOTSUPP), where go-fuse's "no such
//     attribute" made ls -l cost two more round trips per name (ACL and
//     SELinux labels) and every write one (security.capability).
func NewRawFS(root gofs.InodeEmbedder, opts *gofs.Options) fuse.RawFileSystem {
	return rawFS{gofs.NewNodeFS(root, opts)}
}

type rawFS struct {
	fuse.RawFileSystem
}

func (rawFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	return 0, fuse.ENOSYS
}

func (rawFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	return 0, fuse.ENOSYS
}

func (e rawFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	st := e.RawFileSystem.Lookup(cancel, header, name, out)
	if out.AttrValid == 0 && out.AttrValidNsec == uint32(notExact) {
		out.AttrValidNsec = 0
	}
	return st
}

func (e rawFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	st := e.RawFileSystem.GetAttr(cancel, in, out)
	if out.AttrValid == 0 && out.AttrValidNsec == uint32(notExact) {
		out.AttrValidNsec = 0
	}
	return st
}

func (e rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	st := e.RawFileSystem.ReadDirPlus(cancel, in, out)
	if st == fuse.OK {
		exactPlusEntries(out.Bytes())
	}
	return st
}

// Where the attribute timeout lies in an entry of READDIRPLUS's answer:
// each is an EntryOut, then a dirent (inode, offset, name length, type)
// and the name, padded to 8 bytes.
var (
	attrValidAt     = int(unsafe.Offsetof(fuse.EntryOut{}.AttrValid))
	attrValidNsecAt = int(unsafe.Offsetof(fuse.EntryOut{}.AttrValidNsec))
	entryOutSize    = int(unsafe.Sizeof(fuse.EntryOut{}))
)

const (
	direntSize    = 24 // inode, offset (8 bytes each), name length, type (4 each)
	direntNameLen = 16
)

// exactPlusEntries turns, in place, the notExact attribute timeouts of
// a READDIRPLUS answer into zero.
func exactPlusEntries(buf []byte) {
	for len(buf) >= entryOutSize+direntSize {
		if binary.NativeEndian.Uint64(buf[attrValidAt:]) == 0 &&
			binary.NativeEndian.Uint32(buf[attrValidNsecAt:]) == uint32(notExact) {
			binary.NativeEndian.PutUint32(buf[attrValidNsecAt:], 0)
		}
		d := buf[entryOutSize:]
		n := (direntSize + int(binary.NativeEndian.Uint32(d[direntNameLen:])) + 7) &^ 7
		if n > len(d) {
			return
		}
		buf = d[n:]
	}
}
