package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// encode compresses b with one content-coding.
func encode(t testing.TB, coding string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "rawdeflate":
		w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, _ = zstd.NewWriter(&buf)
	default:
		t.Fatalf("unknown coding %q", coding)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var page = []byte("<!doctype html><html><head><meta charset=utf-8><title> Hello\n  World </title></head><body>" +
	strings.Repeat("<p>lorem ipsum dolor sit amet</p>\n", 100) + "</body></html>")

func TestDecodedBodies(t *testing.T) {
	t.Parallel()
	bodies := map[string][]byte{}
	for _, c := range []string{"gzip", "deflate", "rawdeflate", "br", "zstd"} {
		bodies[c] = encode(t, c, page)
	}
	// "gzip, br": gzip applied first, then br; decoded in reverse.
	bodies["gzip, br"] = encode(t, "br", encode(t, "gzip", page))
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		coding := r.URL.Query().Get("c")
		w.Header().Set("Content-Type", "text/html")
		header := coding
		if coding == "rawdeflate" {
			header = "deflate"
		}
		w.Header().Set("Content-Encoding", header)
		w.Write(bodies[coding])
	})
	c := newTestClient(t, nil)
	for coding := range bodies {
		t.Run(coding, func(t *testing.T) {
			r := get(c, ts.URL+"/?c="+strings.ReplaceAll(coding, " ", "+"))
			wantKind(t, r, "")
			if r.Bytes != int64(len(page)) || r.BodySHA256 != sha(page) || r.Truncated {
				t.Errorf("bytes %d sha %s truncated %v, want %d %s false", r.Bytes, r.BodySHA256, r.Truncated, len(page), sha(page))
			}
			if r.Title != "Hello World" {
				t.Errorf("title = %q, want %q", r.Title, "Hello World")
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	gz := encode(t, "gzip", page)
	type readBodyCase struct {
		name      string
		body      []byte
		enc       []string
		max       int64
		wantN     int64
		wantTrunc bool
		wantKind  ErrorKind
	}
	tests := []readBodyCase{
		{"identity", page, nil, 1 << 20, int64(len(page)), false, ""},
		{"identity at cap", page, nil, int64(len(page)), int64(len(page)), false, ""},
		{"identity over cap", page, nil, 100, 100, true, ""},
		{"zero cap", page, nil, 0, 0, true, ""},
		{"unknown coding passes through", gz, []string{"compress"}, 1 << 20, int64(len(gz)), false, ""},
		{"unknown in a list passes through", gz, []string{"gzip, snappy"}, 1 << 20, int64(len(gz)), false, ""},
		{"gzip over decoded cap", gz, []string{"gzip"}, 1000, 1000, true, ""},
		{"gzip over raw cap", gz, []string{"gzip"}, int64(len(gz)) - 10, -1, true, ""},
		{"corrupt gzip", []byte("this is not gzip at all"), []string{"gzip"}, 1 << 20, 0, false, KindProtocol},
		{"truncated gzip", gz[:len(gz)/2], []string{"gzip"}, 1 << 20, -1, false, KindProtocol},
		{"empty gzip body", nil, []string{"gzip"}, 1 << 20, 0, false, ""},
		{"corrupt br", []byte("garbage garbage garbage"), []string{"br"}, 1 << 20, -1, false, KindProtocol},
		{"corrupt zstd", []byte("garbage garbage garbage"), []string{"zstd"}, 1 << 20, 0, false, KindProtocol},
	}
	// An incompressible body grows when encoded: a decoded body within the
	// cap is read whole, and one just over it is cut at the cap, although
	// its encoding is longer than the cap either way.
	noise := make([]byte, 8<<10)
	for i, s := 0, sha256.Sum256(nil); i < len(noise); i += len(s) {
		s = sha256.Sum256(s[:])
		copy(noise[i:], s[:])
	}
	for _, c := range []string{"gzip", "deflate", "br", "zstd"} {
		enc := encode(t, c, noise)
		if len(enc) <= len(noise) {
			t.Fatalf("%s: noise compressed to %d bytes of %d", c, len(enc), len(noise))
		}
		n := int64(len(noise))
		tests = append(tests,
			readBodyCase{c + " incompressible at cap", enc, []string{c}, n, n, false, ""},
			readBodyCase{c + " incompressible over cap", enc, []string{c}, n - 1, n - 1, true, ""},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := readBody(context.Background(), bytes.NewReader(tt.body), tt.enc, tt.max, 0, nil, nil)
			if got := Classify(err); got != tt.wantKind {
				t.Fatalf("error %v (kind %q), want kind %q", err, got, tt.wantKind)
			}
			if (tt.wantN >= 0 && info.n != tt.wantN) || info.truncated != tt.wantTrunc {
				t.Errorf("n %d truncated %v, want %d %v", info.n, info.truncated, tt.wantN, tt.wantTrunc)
			}
			if info.n > tt.max {
				t.Errorf("read %d bytes past the cap %d", info.n, tt.max)
			}
		})
	}
}

// TestCorruptBodyKeepsStatus checks that a body that fails to decode is a
// protocol error with its status kept.
func TestCorruptBodyKeepsStatus(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(201)
		w.Write([]byte("definitely not gzip"))
	})
	r := get(newTestClient(t, nil), ts.URL)
	wantKind(t, r, KindProtocol)
	if r.Status != 201 {
		t.Errorf("status = %d, want 201 kept", r.Status)
	}
	if strings.Contains(r.Error.Message, "gzip: gzip:") || !strings.Contains(r.Error.Message, "gzip: invalid header") {
		t.Errorf("message %q: want the coding named once", r.Error.Message)
	}
}

var (
	bombOnce sync.Once
	bomb     []byte
)

// TestGzipBomb serves 100 MB of zeros gzipped: reading stops at the cap,
// quickly.
func TestGzipBomb(t *testing.T) {
	t.Parallel()
	bombOnce.Do(func() {
		// 100 gzip members of 1 MiB of zeros each: one valid multi-member
		// gzip stream of 100 MiB, cheap to build even under -race.
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(make([]byte, 1<<20))
		w.Close()
		bomb = bytes.Repeat(buf.Bytes(), 100)
	})
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb)
	})
	c := newTestClient(t, func(o *Options) { o.MaxBody = 1 << 20 })
	start := time.Now()
	r := get(c, ts.URL)
	wantKind(t, r, "")
	if !r.Truncated || r.Bytes != 1<<20 {
		t.Errorf("truncated %v bytes %d, want true and %d", r.Truncated, r.Bytes, 1<<20)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
}

func TestBodyCapOverHTTP(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 10000))
	})
	for _, tt := range []struct {
		max   int64
		trunc bool
	}{{4096, true}, {10000, false}, {20000, false}} {
		r := get(newTestClient(t, func(o *Options) { o.MaxBody = tt.max }), ts.URL)
		wantKind(t, r, "")
		want := min(tt.max, 10000)
		if r.Bytes != want || r.Truncated != tt.trunc {
			t.Errorf("max %d: bytes %d truncated %v, want %d %v", tt.max, r.Bytes, r.Truncated, want, tt.trunc)
		}
	}
}

// TestNestedCodings: a body sent with many content codings, compressed as
// many times, made one decoder per layer before reading a byte (about 40 KiB
// each for gzip: 4,000 layers, 150 MB, from a 150 KB body). Five are undone
// (curl's limit); more are a protocol error that costs nothing.
func TestNestedCodings(t *testing.T) {
	nest := func(k int) ([]byte, []string) {
		b := page
		enc := make([]string, k)
		for i := range k {
			b = encode(t, "gzip", b)
			enc[i] = "gzip"
		}
		return b, []string{strings.Join(enc, ", ")}
	}
	body, enc := nest(5)
	info, err := readBody(context.Background(), bytes.NewReader(body), enc, 1<<20, 0, nil, nil)
	if err != nil || info.n != int64(len(page)) {
		t.Fatalf("5 codings: n %d err %v, want %d and no error", info.n, err, len(page))
	}
	for _, k := range []int{6, 300} {
		body, enc := nest(k)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := readBody(context.Background(), bytes.NewReader(body), enc, 1<<20, 0, nil, nil)
		runtime.ReadMemStats(&after)
		if Classify(err) != KindProtocol {
			t.Errorf("%d codings: error %v, want a protocol error", k, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%d codings: allocated %d bytes", k, grew)
		}
	}
}

// TestRawLimit: the raw bytes' cap is the decoded cap plus a margin, and
// does not overflow into a negative cap (which would read nothing) for the
// largest --max-body.
func TestRawLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ max, want int64 }{
		{0, 4 << 10},
		{1 << 20, 1<<20 + 1<<14 + 4<<10},
		{math.MaxInt64 - 10, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64},
	} {
		if got := rawLimit(tc.max); got != tc.want {
			t.Errorf("rawLimit(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

// TestGzipTrailingBytes: bytes after a gzip body's last member (NUL
// padding, stray bytes) are ignored, as curl and browsers do, instead of
// failing the body with "unexpected EOF"; members that follow are still
// decoded, and one that starts but is broken is still an error.
func TestGzipTrailingBytes(t *testing.T) {
	t.Parallel()
	gz := encode(t, "gzip", page)
	empty := encode(t, "gzip", nil)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	trail := []byte("\x00\x00garbage")
	n := int64(len(page))
	wireErr := errors.New("connection reset by peer")
	tests := []struct {
		name      string
		body      io.Reader
		enc       []string
		max       int64
		wantN     int64
		wantTrunc bool
		wantErr   error // errors.Is, or nil
		wantKind  ErrorKind
	}{
		{"NULs and garbage", bytes.NewReader(cat(gz, trail)), []string{"gzip"}, 1 << 20, n, false, nil, ""},
		{"one stray byte", bytes.NewReader(cat(gz, []byte{0})), []string{"gzip"}, 1 << 20, n, false, nil, ""},
		{"a header's length of garbage", bytes.NewReader(cat(gz, []byte("<html>not a gzip member</html>"))), []string{"gzip"}, 1 << 20, n, false, nil, ""},
		{"at the cap", bytes.NewReader(cat(gz, trail)), []string{"gzip"}, n, n, false, nil, ""},
		{"over the cap", bytes.NewReader(cat(gz, trail)), []string{"gzip"}, n - 1, n - 1, true, nil, ""},
		{"members then garbage", bytes.NewReader(cat(gz, empty, gz, trail)), []string{"gzip"}, 1 << 20, 2 * n, false, nil, ""},
		{"members", bytes.NewReader(cat(gz, gz, empty)), []string{"gzip"}, 1 << 20, 2 * n, false, nil, ""},
		{"under br", bytes.NewReader(encode(t, "br", cat(gz, trail))), []string{"gzip, br"}, 1 << 20, n, false, nil, ""},
		{"broken second member", bytes.NewReader(cat(gz, []byte("\x1f\x8bgarbage!"))), []string{"gzip"}, 1 << 20, n, false, nil, KindProtocol},
		{"truncated second member", bytes.NewReader(cat(gz, gz[:len(gz)/2])), []string{"gzip"}, 1 << 20, -1, false, nil, KindProtocol},
		{"wire error after a member", io.MultiReader(bytes.NewReader(gz), iotest.ErrReader(wireErr)), []string{"gzip"}, 1 << 20, n, false, wireErr, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := readBody(context.Background(), tt.body, tt.enc, tt.max, 0, nil, nil)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want the wire's %v", err, tt.wantErr)
				}
			case Classify(err) != tt.wantKind:
				t.Fatalf("error %v (kind %q), want kind %q", err, Classify(err), tt.wantKind)
			}
			if (tt.wantN >= 0 && info.n != tt.wantN) || info.truncated != tt.wantTrunc {
				t.Errorf("n %d truncated %v, want %d %v", info.n, info.truncated, tt.wantN, tt.wantTrunc)
			}
		})
	}

	// Over HTTP, the page decodes whole, title and hash included.
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(cat(gz, trail))
	})
	r := get(newTestClient(t, nil), ts.URL)
	wantKind(t, r, "")
	if r.Bytes != n || r.BodySHA256 != sha(page) || r.Truncated || r.Title != "Hello World" {
		t.Errorf("bytes %d sha %s truncated %v title %q, want %d %s false %q", r.Bytes, r.BodySHA256, r.Truncated, r.Title, n, sha(page), "Hello World")
	}
}
