package fs

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/s3client"
)

// multipart is one multipart upload with parts in flight.
type multipart struct {
	store Store
	log   *logrus.Entry
	t     target
	id    string
	slots chan struct{} // one token per part in flight
	wg    sync.WaitGroup

	mu    sync.Mutex // protects the fields below
	parts []s3client.CompletedPart
	next  int   // number of the next part to start
	err   error // first failure
}

func newMultipart(store Store, log *logrus.Entry, t target, id string, parallel int) *multipart {
	return &multipart{store: store, log: log, t: t, id: id, slots: make(chan struct{}, parallel), next: 1}
}

// nextPart is the number the next shipped part gets.
func (m *multipart) nextPart() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next
}

// upload ships an in-memory part in the background once the memory
// budget and a slot allow; the buffer goes back to pool when sent.
func (m *multipart) upload(part []byte, pool *bufPool) error {
	pool.mem.startFlight()
	return m.uploadFrom(bytes.NewReader(part), int64(len(part)), func() {
		pool.mem.endFlight()
		pool.put(part)
	})
}

// uploadFrom ships size bytes of body as the next part, in the background
// once a slot is free, and calls done (if set) when body is no longer
// needed. It returns an earlier part's failure, if any.
func (m *multipart) uploadFrom(body io.ReaderAt, size int64, done func()) error {
	m.slots <- struct{}{}
	m.mu.Lock()
	n, err := m.next, m.err
	m.next++
	m.mu.Unlock()
	if done == nil {
		done = func() {}
	}
	if err != nil {
		<-m.slots
		done()
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { <-m.slots }()
		defer done()
		etag, err := m.store.UploadPart(context.Background(), m.t.bucket, m.t.key, m.id, n, body, size)
		m.mu.Lock()
		defer m.mu.Unlock()
		if err != nil {
			if m.err == nil {
				m.err = err
			}
			return
		}
		m.parts = append(m.parts, s3client.CompletedPart{PartNumber: n, ETag: etag})
	}()
	return nil
}

// complete waits for the parts and completes the upload, or aborts it
// if any part failed. It returns the object's ETag, "" if the server
// named none (Ceph RGW).
func (m *multipart) complete(ctx context.Context) (string, error) {
	m.wg.Wait()
	m.mu.Lock()
	err, parts := m.err, m.parts
	m.mu.Unlock()
	var etag string
	if err == nil {
		slices.SortFunc(parts, func(a, b s3client.CompletedPart) int { return a.PartNumber - b.PartNumber })
		etag, err = m.store.CompleteMultipartUpload(ctx, m.t.bucket, m.t.key, m.id, parts)
	}
	if err != nil {
		m.abort()
	}
	return etag, err
}

// abort waits for parts in flight and aborts the upload.
func (m *multipart) abort() {
	m.wg.Wait()
	if err := m.store.AbortMultipartUpload(context.Background(), m.t.bucket, m.t.key, m.id); err != nil {
		m.log.WithField("key", m.t.key).Warnf("abort multipart upload %s: %v", m.id, err)
	}
}
