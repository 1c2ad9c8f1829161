package fs

import (
	"bufio"
	"io"
	"mime"
	"os"
	"path"
	"strings"
	"sync"
)

// Content types of new objects, as s3fs gives them: from the system's
// /etc/mime.types when it exists (users edit it; its types carry no
// charset parameter), else from Go's table (mime.TypeByExtension, which
// adds "; charset=utf-8" to text types), else
// application/octet-stream. The extension is the name's last one,
// matched without regard to case.

// systemMimeTypes is the table of /etc/mime.types, read once; nil if
// the file cannot be read.
var systemMimeTypes = sync.OnceValue(func() map[string]string {
	f, err := os.Open("/etc/mime.types")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseMimeTypes(f)
})

// parseMimeTypes reads a mime.types file: "type ext ext ..." lines, #
// comments. The first type named for an extension wins.
func parseMimeTypes(r io.Reader) map[string]string {
	types := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, ext := range fields[1:] {
			ext = strings.ToLower(ext)
			if _, ok := types[ext]; !ok {
				types[ext] = fields[0]
			}
		}
	}
	return types
}

// contentType is the type of a new object named key.
func contentType(key string) string {
	return contentTypeIn(systemMimeTypes(), key)
}

// contentTypeIn is contentType with the system table given.
func contentTypeIn(system map[string]string, key string) string {
	ext := path.Ext(key)
	if ext == "" {
		return "application/octet-stream"
	}
	if system != nil {
		if t, ok := system[strings.ToLower(ext[1:])]; ok {
			return t
		}
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// derivedContentType reports whether ct is what a name of key would get
// without an explicit type: from either table, or the default. Such a
// type follows the name when the object is renamed.
func derivedContentType(ct, key string) bool {
	return ct == "" || ct == contentType(key) || ct == mime.TypeByExtension(path.Ext(key)) ||
		ct == "application/octet-stream" || ct == "binary/octet-stream"
}
