package fs

import "github.com/bucketfs/bucketfs/cache"

// Stats are what the filesystem shows of itself for metrics.
type Stats struct {
	// UploadPartsInFlight are the multipart upload parts (or single PUTs
	// of streamed files) being sent now.
	UploadPartsInFlight int
	// UploadBytesBuffered are the bytes held in upload part buffers:
	// written by applications and not yet sent.
	UploadBytesBuffered int64
	// ReadBytesBuffered are the bytes held in read chunk buffers.
	ReadBytesBuffered int64
	// Attrs and Listings are the metadata caches.
	Attrs, Listings cache.Stats
}

// Stats returns the filesystem's Stats now.
func (f *FS) Stats() Stats {
	return Stats{
		UploadPartsInFlight: f.parts.mem.flying(),
		UploadBytesBuffered: f.parts.held.Load(),
		ReadBytesBuffered:   f.chunks.held.Load(),
		Attrs:               f.attrs.Stats(),
		Listings:            f.listings.Stats(),
	}
}
