package fs

import (
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// notExact is the attribute timeout that nodes give attributes lacking
// the object's metadata (lazy lookups). go-fuse would replace a zero
// timeout by its default, and the kernel rounds any other up to a jiffy,
// during which a stat would show the guessed mode: NewRawFS turns this
// one value into a true zero on its way to the kernel.
const notExact = time.Nanosecond

// NewRawFS is go-fuse's NewNodeFS for root, with the attribute timeouts
// of lazy lookups (notExact) sent as zero: the kernel then asks for the
// attributes again at the first stat, which fetches the metadata.
func NewRawFS(root gofs.InodeEmbedder, opts *gofs.Options) fuse.RawFileSystem {
	return exactAttrs{gofs.NewNodeFS(root, opts)}
}

type exactAttrs struct {
	fuse.RawFileSystem
}

func (e exactAttrs) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	st := e.RawFileSystem.Lookup(cancel, header, name, out)
	if out.AttrValid == 0 && out.AttrValidNsec == uint32(notExact) {
		out.AttrValidNsec = 0
	}
	return st
}

func (e exactAttrs) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	st := e.RawFileSystem.GetAttr(cancel, in, out)
	if out.AttrValid == 0 && out.AttrValidNsec == uint32(notExact) {
		out.AttrValidNsec = 0
	}
	return st
}
