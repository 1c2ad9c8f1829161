package main

import (
	"encoding/binary"
	"io"
)

// genData is size bytes of pseudo-random data that can be read at any
// offset without being stored anywhere: the 8 bytes at offset 8w are
// splitmix64(seed + w). The read-path objects (up to several GiB) are
// uploaded from it and the small files compared with it, so they need
// neither local disk nor memory.
type genData struct {
	seed uint64
	size int64
}

var _ io.ReaderAt = genData{}

// splitmix64 is the output function of SplitMix64 (Steele et al. 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// ReadAt fills p with the bytes at off; it returns io.EOF past the end.
func (g genData) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.size {
		return 0, io.EOF
	}
	var err error
	if rest := g.size - off; int64(len(p)) > rest {
		p, err = p[:rest], io.EOF
	}
	w := uint64(off / 8)
	var word [8]byte
	n := 0
	if in := int(off % 8); in != 0 { // the first, partial word
		binary.LittleEndian.PutUint64(word[:], splitmix64(g.seed+w))
		n = copy(p, word[in:])
		w++
	}
	for ; len(p)-n >= 8; n, w = n+8, w+1 {
		binary.LittleEndian.PutUint64(p[n:], splitmix64(g.seed+w))
	}
	if n < len(p) { // the last, partial word
		binary.LittleEndian.PutUint64(word[:], splitmix64(g.seed+w))
		n += copy(p[n:], word[:])
	}
	return n, err
}

// bytes returns all of g (for small objects).
func (g genData) bytes() []byte {
	b := make([]byte, g.size)
	g.ReadAt(b, 0)
	return b
}
