package fetch

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"golang.org/x/sync/semaphore"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// titleWindow is how much of an HTML body is kept to look for its title;
// the rest is only counted and hashed, so memory per fetch stays small
// whatever --max-body is.
const titleWindow = 256 << 10

// zstdMaxWindow follows RFC 9659: HTTP zstd content uses at most an 8 MiB
// window, so a larger one is refused instead of allocated.
const zstdMaxWindow = 8 << 20

// errRawCap is returned by rawReader once the raw body is longer than the
// cap; the caller sees rawReader.capped and reports truncation.
var errRawCap = errors.New("raw body exceeds the size cap")

// rawReader counts the bytes read off the wire, stops just past limit and
// remembers the wire's own error so it is not mistaken for a decoding one.
type rawReader struct {
	r      io.Reader
	n      int64
	limit  int64
	capped bool
	eof    bool
	err    error
}

func (r *rawReader) Read(p []byte) (int, error) {
	if r.capped {
		return 0, errRawCap
	}
	// Read one byte past the limit at most: it proves there is more.
	if room := r.limit + 1 - r.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.n > r.limit {
		r.capped = true
		n -= int(r.n - r.limit)
		r.n = r.limit
		return n, errRawCap
	}
	if err == io.EOF {
		r.eof = true
	} else if err != nil {
		r.err = err
	}
	return n, err
}

// scratchSize is the read buffer per body being read. The transport
// already buffers the socket, so a larger one saves few calls, and with
// thousands of bodies read at once it is most of the memory they cost.
const (
	scratchSize     = 8 << 10
	pooledPrefixMax = 16 << 10
)

var (
	scratchPool = sync.Pool{New: func() any { return new([scratchSize]byte) }}
	hashPool    = sync.Pool{New: func() any { return sha256.New() }}
	prefixPool  = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	bufioPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	gzipPool    sync.Pool // *gzipBody
	brotliPool  sync.Pool // *brotli.Reader
	zstdPool    sync.Pool // *zstd.Decoder
)

// decodeChain holds the decoders of one body so they can go back to their
// pools once the body is read.
type decodeChain struct {
	pooled [6]any
	n      int
	ctx    context.Context // the attempt's: bounds a wait for decoder memory
	held   int64           // bytes of decoderMemory this body holds
}

// decoderMemory bounds, for the whole process, the memory that decoders
// with large windows may claim at once. A brotli stream chooses its window
// (up to 16 MiB, a 32 MiB ring buffer) and a hostile one that never ends
// its first block makes the decoder allocate all of it: without a budget,
// 500 such responses in flight would want 16 GiB. Over the budget, a body
// waits for memory within its attempt's deadline.
var decoderMemory = semaphore.NewWeighted(decoderBudget)

const (
	decoderBudget = 512 << 20
	// smallWindowBits is the largest brotli window read without the
	// budget and whose decoder is pooled: 1 MiB, 2 MiB of ring buffer.
	smallWindowBits = 20
)

func (d *decodeChain) keep(v any) {
	if d.n < len(d.pooled) {
		d.pooled[d.n] = v
		d.n++
	}
}

func (d *decodeChain) release() {
	for i := 0; i < d.n; i++ {
		switch v := d.pooled[i].(type) {
		case *bufio.Reader:
			v.Reset(nil)
			bufioPool.Put(v)
		case *gzipBody:
			v.br = nil
			gzipPool.Put(v)
		case *brotli.Reader:
			brotliPool.Put(v)
		case *zstd.Decoder:
			if v.Reset(nil) == nil {
				zstdPool.Put(v)
			}
		}
		d.pooled[i] = nil
	}
	d.n = 0
	if d.held > 0 {
		decoderMemory.Release(d.held)
		d.held = 0
	}
}

// wrap returns a reader that decodes one content-coding read from src, or
// ok=false for an unknown coding.
func (d *decodeChain) wrap(coding string, src io.Reader) (r io.Reader, ok bool, err error) {
	switch strings.ToLower(strings.TrimSpace(coding)) {
	case "", "identity":
		return src, true, nil
	case "gzip", "x-gzip":
		g, _ := gzipPool.Get().(*gzipBody)
		if g == nil {
			g = new(gzipBody)
		}
		d.keep(g)
		return g, true, g.reset(d.bufio(src))
	case "deflate":
		// "deflate" is meant to be zlib-wrapped, but servers send raw
		// DEFLATE often enough that browsers accept both.
		br := d.bufio(src)
		if h, err := br.Peek(2); err == nil && (uint(h[0])<<8|uint(h[1]))%31 == 0 && h[0]&0x0f == 8 {
			z, err := zlib.NewReader(br)
			return z, true, err
		}
		return flate.NewReader(br), true, nil
	case "br":
		br := d.bufio(src)
		if bits, ok := brotliWindowBits(br); ok && bits > smallWindowBits {
			// A large window: claim its ring buffer from the budget, and
			// do not pool a decoder that holds one.
			cost := int64(2) << bits
			if d.ctx == nil {
				d.ctx = context.Background()
			}
			if err := decoderMemory.Acquire(d.ctx, cost); err != nil {
				return nil, true, err
			}
			d.held += cost
			return brotli.NewReader(br), true, nil
		}
		b, _ := brotliPool.Get().(*brotli.Reader)
		if b == nil {
			b = brotli.NewReader(br)
		} else if err := b.Reset(br); err != nil {
			return nil, true, err
		}
		d.keep(b)
		return b, true, nil
	case "zstd":
		z, _ := zstdPool.Get().(*zstd.Decoder)
		if z == nil {
			var err error
			z, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(64<<20),
				zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, true, err
			}
		}
		d.keep(z)
		return z, true, z.Reset(src)
	}
	return nil, false, nil
}

// gzipBody decodes a gzip body member by member. A body may be several
// members (RFC 1952), decoded one after the other; but what follows the
// last member and is not another one is ignored, as curl and browsers do:
// some servers pad a gzip body with NULs or send stray bytes after it,
// which a gzip.Reader in its default multistream mode takes for a broken
// member's header ("unexpected EOF", "invalid header").
type gzipBody struct {
	z  gzip.Reader
	br *bufio.Reader // the member's source, left just past it by z
}

// reset starts on a body's first member.
func (g *gzipBody) reset(br *bufio.Reader) error {
	g.br = br
	err := g.z.Reset(br)
	g.z.Multistream(false)
	return err
}

func (g *gzipBody) Read(p []byte) (int, error) {
	for {
		n, err := g.z.Read(p)
		if err != io.EOF {
			return n, err
		}
		// A member ended, whole and checked: another follows only if its
		// magic number does. The bytes peeked were read off the wire, so
		// they count against the raw cap like any others.
		h, err := g.br.Peek(2)
		switch {
		case len(h) == 2 && h[0] == 0x1f && h[1] == 0x8b:
		case len(h) == 2 || err == io.EOF:
			return n, io.EOF
		default:
			return n, err // the wire's own error, or the raw cap
		}
		if err := g.reset(g.br); err != nil {
			return n, err
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
	}
}

func (d *decodeChain) bufio(src io.Reader) *bufio.Reader {
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(src)
	d.keep(br)
	return br
}

// brotliWindowBits reads the window size a brotli stream declares in its
// first bits (RFC 7932, section 9.1), without consuming them.
func brotliWindowBits(br *bufio.Reader) (int, bool) {
	b, err := br.Peek(1)
	if err != nil {
		return 0, false
	}
	h := b[0]
	switch {
	case h&1 == 0:
		return 16, true
	case (h>>1)&7 != 0:
		return 17 + int((h>>1)&7), true
	case (h>>4)&7 != 0:
		return 8 + int((h>>4)&7), true // 0b001 here is the large-window escape: 9 bits, rejected by the decoder
	default:
		return 17, true
	}
}

// maxCodings is the most content codings a body may be sent with.
const maxCodings = 5

// decoder builds the reader for a body sent with the given
// Content-Encoding header values, and names the codings it undoes (see
// Result.ContentEncoding). Codings are undone in reverse order of
// application; with any unknown coding the body is passed through as is.
func (d *decodeChain) decoder(values []string, raw io.Reader) (io.Reader, string, error) {
	if len(values) == 0 {
		return raw, "", nil
	}
	var codings []string
	if len(values) == 1 && !strings.Contains(values[0], ",") {
		codings = values
	} else {
		for _, v := range values {
			codings = append(codings, strings.Split(v, ",")...)
		}
	}
	n := 0
	for _, c := range codings {
		if c := strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
			n++
		}
	}
	if n > maxCodings {
		// Each layer costs a decoder (a gzip one is about 40 KiB), before
		// a byte is decoded: a header of thousands of codings over a body
		// compressed as many times would take gigabytes. curl draws the
		// same line (CVE-2022-32206).
		return nil, "", fmt.Errorf("%d content codings, at most %d are undone", n, maxCodings)
	}
	r := io.Reader(raw)
	for i := len(codings) - 1; i >= 0; i-- {
		next, ok, err := d.wrap(codings[i], r)
		if !ok {
			d.release()
			return raw, "", nil
		}
		if err != nil {
			if c := strings.TrimSpace(codings[i]); !strings.HasPrefix(err.Error(), strings.ToLower(c)+":") {
				// ("gzip: invalid header" names its coding already.)
				return nil, codingNames(codings), fmt.Errorf("%s: %w", c, err)
			}
			return nil, codingNames(codings), err
		}
		r = next
	}
	return r, codingNames(codings), nil
}

// codingNames is the known codings' names, as Result.ContentEncoding
// gives them: one coding is a constant string, so that a result costs no
// allocation for the usual single gzip or br.
func codingNames(codings []string) string {
	name := func(c string) string {
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "gzip", "x-gzip":
			return "gzip"
		case "deflate":
			return "deflate"
		case "br":
			return "br"
		case "zstd":
			return "zstd"
		}
		return "" // identity, or an empty list element
	}
	if len(codings) == 1 {
		return name(codings[0])
	}
	var names []string
	for _, c := range codings {
		if s := name(c); s != "" {
			names = append(names, s)
		}
	}
	return strings.Join(names, ", ")
}

// bodyInfo is what readBody learned from a body.
type bodyInfo struct {
	n         int64
	truncated bool
	sha256    string
	coding    string  // the codings undone, as Result.ContentEncoding names them
	prefix    *[]byte // first bytes, kept when asked; give back with putPrefix
}

// putPrefix gives a title window back. Only small ones are pooled: when
// thousands of responses complete at once each holds one, so pooled
// buffers must stay the size most titles need, not the 256 KiB a rare
// page does.
func putPrefix(p *[]byte) {
	if p != nil && cap(*p) <= pooledPrefixMax {
		*p = (*p)[:0]
		prefixPool.Put(p)
	}
}

// rawSlack is how far past maxBody the raw bytes of an encoded body may run:
// an incompressible body grows a little when encoded (block and frame
// headers, a checksum), and a decoded body within the cap must still be read
// whole. Well past it, a stream that decodes to little or nothing is cut.
func rawSlack(maxBody int64) int64 { return maxBody/64 + 4<<10 }

// rawLimit is maxBody+rawSlack, or the largest int64 where that overflows
// (--max-body 8EiB).
func rawLimit(maxBody int64) int64 {
	if n := maxBody + rawSlack(maxBody); n >= maxBody {
		return n
	}
	return math.MaxInt64
}

// readBody reads at most maxBody decoded bytes of body (and at most
// maxBody+rawSlack raw ones), decoding it per the Content-Encoding values,
// hashing it, keeping its first keep bytes, searching it with match and,
// when save is not nil, writing every decoded byte read to it (match and
// save may be nil). A body longer than the cap is
// cut, not drained. An error that is not the wire's own is a protocol error:
// the body does not decode.
func readBody(ctx context.Context, body io.Reader, encodings []string, maxBody int64, keep int, save *bodySaver, match *matcher) (info bodyInfo, err error) {
	raw := rawReader{r: body, limit: rawLimit(maxBody)}
	chain := decodeChain{ctx: ctx}
	defer chain.release()
	src, coding, err := chain.decoder(encodings, &raw)
	if err == nil {
		err = copyBody(&info, src, maxBody, keep, save, match)
	}
	if raw.n > 0 {
		info.coding = coding // not for an empty body: nothing was decoded
	}
	if raw.capped {
		info.truncated = true
		err = nil
	}
	if raw.n == 0 && raw.eof {
		// An empty body sent with a Content-Encoding (common on 204s
		// and redirects) has nothing to decode.
		err = nil
	}
	if err != nil {
		if raw.err != nil {
			err = raw.err
		} else {
			err = &kindError{kind: KindProtocol, msg: "body does not decode: " + err.Error(), err: err}
		}
	}
	return info, err
}

// copyBody reads src up to maxBody bytes, then probes one more byte to
// learn whether the body was cut. Each read goes to the hash, to save and
// to match (unless nil) from one scratch buffer: saving costs no memory per
// body, and matching only the tail it keeps.
func copyBody(info *bodyInfo, src io.Reader, maxBody int64, keep int, save *bodySaver, match *matcher) error {
	buf := scratchPool.Get().(*[scratchSize]byte)
	defer scratchPool.Put(buf)
	h := hashPool.Get().(hash.Hash)
	defer hashPool.Put(h)
	h.Reset()
	if keep > 0 {
		info.prefix = prefixPool.Get().(*[]byte)
	}
	var err error
	for info.n < maxBody && err == nil {
		var n int
		n, err = src.Read(buf[:min(int64(len(buf)), maxBody-info.n)])
		if n > 0 {
			h.Write(buf[:n])
			if save != nil {
				save.write(buf[:n])
			}
			if match != nil {
				match.write(buf[:n])
			}
			info.n += int64(n)
			if info.prefix != nil && len(*info.prefix) < keep {
				*info.prefix = append(*info.prefix, buf[:min(n, keep-len(*info.prefix))]...)
			}
		}
	}
	if err == nil {
		// At the cap: is there more? Readers may return (0, nil), so try a
		// bounded number of times.
		for range 8 {
			var n int
			n, err = src.Read(buf[:1])
			if n > 0 {
				info.truncated = true
				err = nil
				break
			}
			if err != nil {
				break
			}
		}
	}
	if info.n > 0 {
		var sum [sha256.Size]byte
		var dst [2 * sha256.Size]byte
		hex.Encode(dst[:], h.Sum(sum[:0]))
		info.sha256 = string(dst[:])
	}
	if err == io.EOF {
		err = nil
	}
	return err
}

// drainLimit is how much of a redirect's body is read so its connection
// can be reused; a longer body costs the connection instead.
const drainLimit = 4 << 10

// discardBody reads up to drainLimit bytes of an intermediate response's
// body and closes it. It returns the read's error, if any but the end of
// the body.
func discardBody(resp *http.Response) error {
	_, err := io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()
	if err == io.EOF {
		err = nil
	}
	return err
}
