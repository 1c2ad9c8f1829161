package s3client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bucketfs/bucketfs/s3client"
)

// maxKeyLen is S3's limit on a key; MinIO also limits each
// '/'-separated segment to maxSegmentLen bytes (a file name).
const (
	maxKeyLen     = 1024
	maxSegmentLen = 255
)

// longKey is a key of exactly maxKeyLen bytes: multi-byte runes and
// escaped characters in segments of at most maxSegmentLen bytes.
func longKey() string {
	segs := []string{strings.Repeat("日本", 42), strings.Repeat("ü", 127), strings.Repeat("😀", 63), strings.Repeat("+ %", 80)}
	key := strings.Join(segs, "/") + "/"
	return key + strings.Repeat("z", maxKeyLen-len(key))
}

// keyChars are the characters that need escaping somewhere: in the path,
// the query, the XML of a listing, or the SigV2 string to sign.
const keyChars = "+%?#&=~!*'();:@$,[]{}^|\\`<>\""

// hardKeys are keys that are easy to get wrong on the wire.
func hardKeys() []string {
	keys := []string{
		"ü", "日本", "😀", "dir ü/日本 😀.txt", "a b c", "dir with spaces/file with spaces",
		" leading", "trailing ", " both ", "dir/ leading in a dir", "dir /trailing in the dir name ",
		"%2F", "a%20b", "a+b c", "..a", "a..", ".hidden/.x", "-", "_", "~user/x",
		longKey(),
	}
	for _, c := range keyChars {
		s := string(c)
		keys = append(keys, s, "k"+s+"v", "dir"+s+"/"+s+"f"+s)
	}
	return keys
}

// listFuncs are the two list calls every key must survive.
func listFuncs(c *s3client.Client) map[string]listFunc {
	return map[string]listFunc{"V2": c.ListObjectsV2, "V1": c.ListObjectsV1}
}

// parentPrefix is key's directory with its '/', or "" at the top.
func parentPrefix(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}

// checkKeyRoundTrip PUTs key into the empty bucket, finds it with HEAD and
// with both list calls, by its own prefix and in its parent's delimited
// listing, reads it back, and deletes it.
func checkKeyRoundTrip(t *testing.T, ctx context.Context, c *s3client.Client, bucket, key string) {
	t.Helper()
	data := []byte("content of " + key)
	etag, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), s3client.PutOptions{})
	if err != nil {
		t.Errorf("put %q: %v", key, err)
		return
	}
	defer func() {
		if err := c.DeleteObject(ctx, bucket, key); err != nil {
			t.Errorf("delete %q: %v", key, err)
		}
		if _, err := c.HeadObject(ctx, bucket, key); !errors.Is(err, s3client.ErrNotFound) {
			t.Errorf("head %q after delete: got %v, want ErrNotFound", key, err)
		}
	}()
	if info, err := c.HeadObject(ctx, bucket, key); err != nil || info.Size != int64(len(data)) || info.ETag != etag {
		t.Errorf("head %q: got %+v, %v, want %d bytes, ETag %s", key, info, err, len(data), etag)
	}
	for name, list := range listFuncs(c) {
		for _, in := range []s3client.ListInput{{Prefix: key}, {Prefix: parentPrefix(key), Delimiter: "/"}} {
			page, err := list(ctx, bucket, in)
			if err != nil {
				t.Errorf("list %s %+v: %v", name, in, err)
				continue
			}
			var got []string
			for _, o := range page.Objects {
				got = append(got, o.Key)
			}
			if !slices.Equal(got, []string{key}) || len(page.CommonPrefixes) != 0 || page.IsTruncated {
				t.Errorf("list %s %+v: got keys %q, prefixes %q, truncated %v, want only %q",
					name, in, got, page.CommonPrefixes, page.IsTruncated, key)
			}
		}
	}
	rc, _, err := c.GetObject(ctx, bucket, key, 0, -1)
	if err != nil {
		t.Errorf("get %q: %v", key, err)
		return
	}
	defer rc.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(rc); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Errorf("get %q: got %q, %v, want %q", key, got.Bytes(), err, data)
	}
}

func TestIntegrationKeyRoundTrip(t *testing.T) {
	keys := hardKeys()
	if k := longKey(); len(k) != maxKeyLen {
		t.Fatalf("long key: got %d bytes, want %d", len(k), maxKeyLen)
	}
	for i, k := range keys {
		if slices.Contains(keys[:i], k) {
			t.Fatalf("test key %q is there twice", k)
		}
		if !validKey(k) {
			t.Fatalf("test key %q is not one S3 and MinIO take", k)
		}
	}
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			c := newClient(t, sig)
			ctx := testCtx(t)
			bucket := newBucket(t, c)
			for _, key := range keys {
				checkKeyRoundTrip(t, ctx, c, bucket, key)
			}

			// All at once: every listing pages through them in S3's
			// (byte) order, whatever the markers hold.
			for _, key := range keys {
				if _, err := c.PutObject(ctx, bucket, key, strings.NewReader(key), int64(len(key)), s3client.PutOptions{}); err != nil {
					t.Fatalf("put %q: %v", key, err)
				}
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			pageSize := len(keys)/10 + 1 // listAll allows 10 pages
			for name, list := range listFuncs(c) {
				got, _ := listAll(t, list, bucket, s3client.ListInput{MaxKeys: pageSize})
				if !slices.Equal(got, want) {
					t.Errorf("list %s of all keys in pages of %d:\ngot  %q\nwant %q", name, pageSize, got, want)
				}
			}
			if _, err := c.PutObject(ctx, bucket, longKey()+"z", strings.NewReader("x"), 1, s3client.PutOptions{}); !errors.Is(err, s3client.ErrKeyTooLong) {
				t.Errorf("put a %d-byte key: got %v, want ErrKeyTooLong", maxKeyLen+1, err)
			}
		})
	}
}

// validKey reports whether key is one S3 and MinIO take as an object's:
// valid UTF-8 without NUL, at most 1024 bytes, of non-empty segments of
// at most 255 bytes that are not "." or "..". MinIO takes '\' for a
// separator too and trims white space (byte by byte) before it compares
// with "." and "..".
func validKey(key string) bool {
	if key == "" || len(key) > maxKeyLen || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || len(seg) > maxSegmentLen {
			return false
		}
		for _, part := range strings.Split(seg, `\`) {
			for len(part) > 0 && unicode.IsSpace(rune(part[0])) {
				part = part[1:]
			}
			for len(part) > 0 && unicode.IsSpace(rune(part[len(part)-1])) {
				part = part[:len(part)-1]
			}
			if part == "." || part == ".." {
				return false
			}
		}
	}
	return true
}

// fuzzServerEnv passes the shared MinIO to the fuzz workers, which start
// none.
const fuzzServerEnv = "BUCKETFS_FUZZ_MINIO"

// fuzzWorker reports whether this process is a fuzz worker, one that the
// fuzzing engine starts to run a fuzz target's inputs.
func fuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// fuzzClients returns a client of each signature version for a fuzz
// target: of the shared MinIO, whose address it puts in the environment
// the fuzz workers inherit, or in a worker of the MinIO found there.
func fuzzClients(f *testing.F) []*s3client.Client {
	endpoint, access, secret := "", "", ""
	if !fuzzWorker() {
		srv := integrationServer(f)
		endpoint, access, secret = srv.Endpoint, srv.AccessKey, srv.SecretKey
		f.Setenv(fuzzServerEnv, endpoint+" "+access+" "+secret)
	} else if fields := strings.Fields(os.Getenv(fuzzServerEnv)); len(fields) == 3 {
		endpoint, access, secret = fields[0], fields[1], fields[2]
	} else {
		f.Fatalf("no MinIO: a fuzz worker and $%s is not set", fuzzServerEnv)
	}
	var clients []*s3client.Client
	for _, sig := range signatures {
		c, err := s3client.New(s3client.Options{
			Endpoint:    endpoint,
			Signature:   sig,
			Credentials: s3client.Credentials{AccessKey: access, SecretKey: secret},
			RetryBase:   10 * time.Millisecond,
		})
		if err != nil {
			f.Fatal(err)
		}
		clients = append(clients, c)
	}
	return clients
}

// FuzzKeyRoundTrip stores an object under each key S3 and MinIO take and
// finds it again by HEAD, LIST (V2 and V1, by prefix and by its parent's
// delimited listing) and GET before deleting it, with each signature.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, k := range hardKeys() {
		f.Add(k)
	}
	clients := fuzzClients(f)
	// One bucket per process: each fuzz worker has its own.
	ctx := context.Background()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	bucket := "fuzz-keys-" + hex.EncodeToString(suffix)
	if err := clients[0].CreateBucket(ctx, bucket); err != nil {
		f.Fatalf("create bucket %s: %v", bucket, err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := clients[0].DeleteBucket(ctx, bucket); err != nil {
			f.Errorf("delete bucket %s (each key is deleted, so it should be empty): %v", bucket, err)
		}
	})
	var mu sync.Mutex // one key at a time in the bucket
	f.Fuzz(func(t *testing.T, key string) {
		if !validKey(key) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range clients {
			checkKeyRoundTrip(t, testCtx(t), c, bucket, key)
		}
	})
}
