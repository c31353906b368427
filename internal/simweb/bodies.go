package simweb

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// Bodies are built once: serving a page is then a copy from a shared slice,
// so the server costs the benchmarks almost nothing per request.

// OKTitle is the title of the 1 KiB page served by /ok, / and /delay.
const OKTitle = "simweb ok"

// OKPageSize is the exact size in bytes of the /ok page.
const OKPageSize = 1024

// EscapeTitle is the raw title of /title/escape: ANSI colour escapes, a BEL
// and a CR that a careless terminal printer would obey.
const EscapeTitle = "\x1b[31mred alert\x1b[0m\x07 bell\roverwritten"

// LongTitleLen is the length in bytes of the title served by /title/long.
const LongTitleLen = 10000

// Titles maps each charset served under /title/NAME to the title it
// decodes to. The page bytes are in that charset, declared (by default) in
// both the Content-Type header and a <meta charset> tag.
var Titles = map[string]string{
	"utf-8":        "Café – “naïve” 5 €",
	"windows-1252": "Café – “naïve” 5 €",
	"iso-8859-1":   "Café naïve 5 ¤",
	"shift_jis":    "日本語のタイトル",
}

var titleEncoders = map[string]encoding.Encoding{
	"utf-8":        encoding.Nop,
	"windows-1252": charmap.Windows1252,
	"iso-8859-1":   charmap.ISO8859_1,
	"shift_jis":    japanese.ShiftJIS,
}

// Shared header values: assigning these slices directly into a response's
// header map avoids one allocation per header per request. net/http only
// reads them.
var (
	hvHTML        = []string{"text/html; charset=utf-8"}
	hvText        = []string{"text/plain; charset=utf-8"}
	hvGzip        = []string{"gzip"}
	hvOKLen       = []string{strconv.Itoa(OKPageSize)}
	hvRetryAfter1 = []string{"1"}
	hvNoStore     = []string{"no-store"}
)

var okPage = buildOKPage()

func buildOKPage() []byte {
	head := "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + OKTitle +
		"</title></head>\n<body><h1>simweb</h1><p>"
	tail := "</p></body></html>\n"
	fill := strings.Repeat("All is well on this simulated site. ", 40)
	page := head + fill[:OKPageSize-len(head)-len(tail)] + tail
	return []byte(page)
}

// statusPage returns a small HTML body for a status code, cached.
var statusPages sync.Map // int -> []byte

func statusPage(code int) []byte {
	if b, ok := statusPages.Load(code); ok {
		return b.([]byte)
	}
	b := []byte("<!doctype html>\n<html><head><title>" + strconv.Itoa(code) +
		"</title></head><body>status " + strconv.Itoa(code) + "</body></html>\n")
	statusPages.Store(code, b)
	return b
}

// titlePage builds the page for /title/NAME with the given declaration
// ("both", "header", "meta", "none"); it returns the body and the
// Content-Type header value.
func titlePage(charset, declare string) (body []byte, contentType string, ok bool) {
	switch charset {
	case "escape":
		return []byte("<!doctype html>\n<html><head><title>" + EscapeTitle + "</title>" +
			"<script>document.title='pwned \\x1b[2J';alert(1)</script></head>" +
			"<body><script>while(true){}</script>hostile page</body></html>\n"), "text/html; charset=utf-8", true
	case "long":
		return []byte("<!doctype html>\n<html><head><title>" + strings.Repeat("x", LongTitleLen) +
			"</title></head><body>long title</body></html>\n"), "text/html; charset=utf-8", true
	case "none":
		return []byte("<!doctype html>\n<html><head></head><body>no title here</body></html>\n"),
			"text/html; charset=utf-8", true
	case "empty":
		return []byte("<!doctype html>\n<html><head><title></title></head><body>empty</body></html>\n"),
			"text/html; charset=utf-8", true
	}
	enc, found := titleEncoders[charset]
	if !found {
		return nil, "", false
	}
	title, err := enc.NewEncoder().String(Titles[charset])
	if err != nil {
		return nil, "", false
	}
	meta := ""
	contentType = "text/html"
	if declare == "" || declare == "both" || declare == "meta" {
		meta = "<meta charset=\"" + charset + "\">"
	}
	if declare == "" || declare == "both" || declare == "header" {
		contentType = "text/html; charset=" + charset
	}
	return []byte("<!doctype html>\n<html><head>" + meta + "<title>" + title +
		"</title></head><body>charset " + charset + "</body></html>\n"), contentType, true
}

// filler is the repeating content of /size and /fault/endless bodies.
var filler = bytes.Repeat([]byte("simweb filler: the quick brown fox jumps over the lazy dog.\n"), 1100)[:64<<10]

// encodedPages holds the OK page compressed with each Content-Encoding
// served by /encoding/NAME, built on first use.
var encodedPages = sync.OnceValue(func() map[string][]byte {
	m := map[string][]byte{}
	var b bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	gz.Write(okPage)
	gz.Close()
	m["gzip"] = bytes.Clone(b.Bytes())
	// A gzip stream cut in half with its tail replaced by garbage: the header
	// is valid, so a client only notices while decoding.
	bad := bytes.Clone(b.Bytes()[:len(b.Bytes())/2])
	m["corrupt-gzip"] = append(bad, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16)...)
	b.Reset()
	zw, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	zw.Write(okPage)
	zw.Close()
	m["deflate"] = bytes.Clone(b.Bytes())
	b.Reset()
	bw := brotli.NewWriterLevel(&b, 6)
	bw.Write(okPage)
	bw.Close()
	m["br"] = bytes.Clone(b.Bytes())
	zs, _ := zstd.NewWriter(nil)
	m["zstd"] = zs.EncodeAll(okPage, nil)
	zs.Close()
	return m
})

// deflateZeros returns a byte-aligned, non-final run of deflate blocks that
// inflates to n zero bytes and references nothing before its own start, so
// copies of it can be concatenated inside one deflate stream.
func deflateZeros(n int) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	zeros := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(zeros))
		fw.Write(zeros[:k])
		n -= k
	}
	fw.Flush() // sync flush: ends on a byte boundary without a final block
	return b.Bytes()
}

// bombUnit is how many zero bytes one cached segment of a gzip bomb holds.
const bombUnit = 1 << 20

var bombSegment = sync.OnceValue(func() []byte { return deflateZeros(bombUnit) })

// bombTails caches the segment for the sub-unit remainder of requested sizes.
var bombTails sync.Map // int -> []byte

func bombTail(n int) []byte {
	if n == 0 {
		return nil
	}
	if b, ok := bombTails.Load(n); ok {
		return b.([]byte)
	}
	b := deflateZeros(n)
	bombTails.Store(n, b)
	return b
}

// gzipHeader is a minimal gzip member header: no name, no mtime.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff}

// deflateFinal is an empty fixed-Huffman block with BFINAL set.
var deflateFinal = []byte{0x03, 0x00}

// crc32Zeros returns the IEEE CRC-32 of n zero bytes in O(log n), using
// zlib's crc32_combine operator squaring: the CRC register is linear in
// GF(2), so appending n zero bytes is a matrix power applied to it.
func crc32Zeros(n int64) uint32 {
	return ^gf2ZeroExtend(0xffffffff, n)
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for i := range 32 {
		square[i] = gf2Times(mat, mat[i])
	}
}

// gf2ZeroExtend feeds n zero bytes to the raw (uninverted) CRC register.
func gf2ZeroExtend(reg uint32, n int64) uint32 {
	if n <= 0 {
		return reg
	}
	var even, odd [32]uint32
	odd[0] = 0xedb88320 // the operator for one zero bit
	row := uint32(1)
	for i := 1; i < 32; i++ {
		odd[i] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // first pass: one zero byte
		if n&1 != 0 {
			reg = gf2Times(&even, reg)
		}
		n >>= 1
		if n == 0 {
			break
		}
		gf2Square(&odd, &even)
		if n&1 != 0 {
			reg = gf2Times(&odd, reg)
		}
		n >>= 1
		if n == 0 {
			break
		}
	}
	return reg
}
