package blockcache

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ncw/directio"
)

// Block files are written and read with O_DIRECT where the filesystem
// allows it. A cold read with the cache on writes every byte it fetches
// to disk; through the page cache each block costs the kernel a page
// allocation and a copy per 4 KiB, which on a VM is slower than loopback
// S3 (see docs/benchmark.md). A direct write hands the buffer to the
// disk, and a direct read fills one from it: neither pays for pages that
// a block cache of its own does not need. Where O_DIRECT is refused
// (tmpfs before Linux 6.6, some FUSE and network filesystems: EINVAL)
// the cache falls back to buffered I/O for good, with the same files.
//
// Direct I/O needs buffers, offsets and lengths aligned to the logical
// block size (at most 4 KiB): a block lives in a frame, a buffer of
// alignUp(headerSize + its length) bytes with its header first. A file
// is written a frame at a time and then cut to headerSize + length
// bytes; it is read a whole frame at a time (a short read at the end of
// the file is what direct reads allow).

// alignUp rounds n up to a multiple of directio.AlignSize.
func alignUp(n int) int {
	return (n + directio.AlignSize - 1) / directio.AlignSize * directio.AlignSize
}

// newFrame returns an aligned frame for a block of n bytes.
func newFrame(n int) []byte {
	return directio.AlignedBlock(alignUp(headerSize + n))
}

// writeBlock writes frame (a header, then n bytes) as block file name,
// atomically: a temp file, then a rename.
func (c *Cache) writeBlock(name string, frame []byte, n int) error {
	tmp := filepath.Join(c.blocks, tmpPrefix+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(c.tmpSeq.Add(1), 10))
	err := errDirectRefused
	if !c.noDirect.Load() {
		err = writeDirect(tmp, frame[:alignUp(headerSize+n)], headerSize+n)
		c.directRefused(err)
	}
	if errors.Is(err, errDirectRefused) {
		err = writeBuffered(tmp, frame[:headerSize+n])
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(c.blocks, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// readBlock reads the block file at path into frame (of a whole block's
// frame size) and returns how many bytes it holds.
func (c *Cache) readBlock(path string, frame []byte) (int, error) {
	if !c.noDirect.Load() {
		n, err := readDirect(path, frame)
		if c.directRefused(err); !errors.Is(err, errDirectRefused) {
			return n, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return readAll(f, frame)
}

// errDirectRefused marks a filesystem that refuses O_DIRECT.
var errDirectRefused = errors.New("O_DIRECT refused")

// directRefused turns direct I/O off for good when err says the
// filesystem refuses it.
func (c *Cache) directRefused(err error) {
	if errors.Is(err, errDirectRefused) && c.noDirect.CompareAndSwap(false, true) {
		c.log.WithField("dir", c.dir).Debug("data cache: the filesystem refuses O_DIRECT; using buffered I/O")
	}
}

// writeDirect writes frame (aligned) to a new file at path with O_DIRECT
// and cuts it to size bytes.
func writeDirect(path string, frame []byte, size int) error {
	f, err := directio.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return refusal(err)
	}
	_, err = f.Write(frame)
	if err != nil {
		err = refusal(err)
	} else if size < len(frame) {
		err = f.Truncate(int64(size))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// writeBuffered writes data to a new file at path.
func writeBuffered(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readDirect reads the file at path into frame (aligned) with O_DIRECT,
// in one read: a direct read of a local file is short only at its end,
// and a second one would start at an unaligned offset.
func readDirect(path string, frame []byte) (int, error) {
	f, err := directio.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, refusal(err)
	}
	defer f.Close()
	n, err := f.Read(frame)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, refusal(err)
}

// readAll reads f into p until p is full or the file ends.
func readAll(f *os.File, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := f.Read(p[n:])
		n += k
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// refusal marks err as errDirectRefused when it is the EINVAL of a
// filesystem without O_DIRECT.
func refusal(err error) error {
	if errors.Is(err, syscall.EINVAL) {
		return errors.Join(errDirectRefused, err)
	}
	return err
}
