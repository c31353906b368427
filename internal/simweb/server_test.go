package simweb

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

func TestOK(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	for _, path := range []string{"/", "/ok", "/ok/anything?n=3"} {
		resp, body := get(t, c, s.URL("h1.sim", path))
		if resp.StatusCode != 200 || len(body) != OKPageSize || resp.ContentLength != OKPageSize {
			t.Errorf("%s: got status %d, %d bytes, Content-Length %d; want 200, %d bytes", path, resp.StatusCode, len(body), resp.ContentLength, OKPageSize)
		}
		if !bytes.Contains(body, []byte("<title>"+OKTitle+"</title>")) {
			t.Errorf("%s: page has no title %q", path, OKTitle)
		}
	}
	if resp, _ := get(t, c, s.URL("h1.sim", "/nope")); resp.StatusCode != 404 {
		t.Errorf("unknown path: got %d, want 404", resp.StatusCode)
	}
}

func TestStatus(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	tests := []struct {
		path       string
		status     int
		retryAfter string
		location   string
	}{
		{"/status/404", 404, "", ""},
		{"/status/503?retry_after=2", 503, "2", ""},
		{"/status/429?retry_after=Wed,%2021%20Oct%202015%2007:28:00%20GMT", 429, "Wed, 21 Oct 2015 07:28:00 GMT", ""},
		{"/status/204", 204, "", ""},
		{"/status/301", 301, "", "/ok"},
		{"/status/302?location=/x", 302, "", "/x"},
		{"/status/799", 799, "", ""},
		{"/status/99", 400, "", ""},
		{"/status/abc", 400, "", ""},
	}
	for _, tt := range tests {
		resp, body := get(t, c, s.URL("h1.sim", tt.path))
		if resp.StatusCode != tt.status {
			t.Errorf("%s: got status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("%s: got Retry-After %q, want %q", tt.path, got, tt.retryAfter)
		}
		if got := resp.Header.Get("Location"); got != tt.location {
			t.Errorf("%s: got Location %q, want %q", tt.path, got, tt.location)
		}
		if tt.status == 204 && len(body) != 0 {
			t.Errorf("%s: got %d body bytes, want none", tt.path, len(body))
		}
	}
}

func TestRedirects(t *testing.T) {
	s := start(t, Config{})
	// A following client: count the hops.
	c := s.Client()
	defer c.CloseIdleConnections()
	hops := 0
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		hops = len(via)
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := c.Get(s.URL("h1.sim", "/redirect/3"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || hops != 3 || resp.Request.URL.Path != "/redirect/0" {
		t.Errorf("/redirect/3: got status %d after %d hops at %s; want 200 after 3 at /redirect/0", resp.StatusCode, hops, resp.Request.URL.Path)
	}

	_, err = c.Get(s.URL("h1.sim", "/redirect-loop"))
	if err == nil || hops != 10 {
		t.Errorf("/redirect-loop: got err %v after %d hops, want an error after 10", err, hops)
	}

	raw := client(t, s)
	tests := []struct {
		path, location string
		status         int
	}{
		{"/redirect/2?code=301", "/redirect/1?code=301", 301},
		{"/redirect/1?code=308", "/redirect/0?code=308", 308},
		{"/redirect/1?code=999", "/redirect/0?code=999", 302},
		{"/redirect-loop", "/redirect-loop", 302},
		{"/redirect-to?u=ftp://x", "ftp://x", 302},
		{"/redirect-to?u=/ok&code=307", "/ok", 307},
	}
	for _, tt := range tests {
		resp, _ := get(t, raw, s.URL("h1.sim", tt.path))
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s: got %d to %q, want %d to %q", tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
	}
	resp, _ = get(t, raw, s.URL("h1.sim", "/redirect/1?abs=1"))
	if want := s.URL("h1.sim", "/redirect/0?abs=1"); resp.Header.Get("Location") != want {
		t.Errorf("abs=1: got Location %q, want %q", resp.Header.Get("Location"), want)
	}
}

// titleOf returns the bytes between <title> and </title>.
func titleOf(body []byte) []byte {
	_, rest, ok := bytes.Cut(body, []byte("<title>"))
	if !ok {
		return nil
	}
	title, _, _ := bytes.Cut(rest, []byte("</title>"))
	return title
}

func TestTitles(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	decoders := map[string]encoding.Encoding{
		"utf-8": encoding.Nop, "windows-1252": charmap.Windows1252,
		"iso-8859-1": charmap.ISO8859_1, "shift_jis": japanese.ShiftJIS,
	}
	for name, want := range Titles {
		resp, body := get(t, c, s.URL("h1.sim", "/title/"+name))
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset="+name {
			t.Errorf("%s: got Content-Type %q", name, ct)
		}
		if !bytes.Contains(body, []byte(`<meta charset="`+name+`">`)) {
			t.Errorf("%s: no meta charset", name)
		}
		raw := titleOf(body)
		got, err := decoders[name].NewDecoder().Bytes(raw)
		if err != nil || string(got) != want {
			t.Errorf("%s: title decodes to %q (%v), want %q", name, got, err, want)
		}
		if name != "utf-8" && bytes.Equal(raw, []byte(want)) {
			t.Errorf("%s: title bytes are UTF-8, want %s", name, name)
		}
	}
	// windows-1252 bytes for the curly quotes and the euro sign.
	_, body := get(t, c, s.URL("h1.sim", "/title/windows-1252?declare=none"))
	if raw := titleOf(body); !bytes.Contains(raw, []byte{0x93, 'n', 'a', 0xef, 'v', 'e', 0x94}) || !bytes.Contains(raw, []byte{0x80}) {
		t.Errorf("windows-1252 title bytes %q lack 0x93..0x94 and 0x80", raw)
	}
	if bytes.Contains(body, []byte("charset")) && bytes.Contains(body, []byte("<meta")) {
		t.Errorf("declare=none still declares the charset: %q", body)
	}

	_, body = get(t, c, s.URL("h1.sim", "/title/escape"))
	if got := string(titleOf(body)); got != EscapeTitle {
		t.Errorf("escape title: got %q, want %q", got, EscapeTitle)
	}
	for _, b := range []string{"\x1b[31m", "\x07", "\r", "<script>"} {
		if !bytes.Contains(body, []byte(b)) {
			t.Errorf("escape page lacks %q", b)
		}
	}
	if _, body = get(t, c, s.URL("h1.sim", "/title/long")); len(titleOf(body)) != LongTitleLen {
		t.Errorf("long title: got %d bytes, want %d", len(titleOf(body)), LongTitleLen)
	}
	if resp, _ := get(t, c, s.URL("h1.sim", "/title/klingon")); resp.StatusCode != 404 {
		t.Errorf("unknown charset: got %d, want 404", resp.StatusCode)
	}
}

func TestSize(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	tests := []struct {
		path string
		want int
		cl   int64
	}{
		{"/size/0", 0, 0},
		{"/size/1MiB", 1 << 20, 1 << 20},
		{"/size/1000", 1000, 1000},
		{"/size/1.5KB", 1500, 1500},
		{"/size/100KiB?chunked=1", 100 << 10, -1},
	}
	for _, tt := range tests {
		resp, body := get(t, c, s.URL("h1.sim", tt.path))
		if len(body) != tt.want || resp.ContentLength != tt.cl {
			t.Errorf("%s: got %d bytes, Content-Length %d; want %d, %d", tt.path, len(body), resp.ContentLength, tt.want, tt.cl)
		}
	}
	if resp, _ := get(t, c, s.URL("h1.sim", "/size/lots")); resp.StatusCode != 400 {
		t.Errorf("bad size: got %d, want 400", resp.StatusCode)
	}
}

func TestCRC32Zeros(t *testing.T) {
	for _, n := range []int{0, 1, 7, 4096, bombUnit + 5, 3*bombUnit - 1} {
		if got, want := crc32Zeros(int64(n)), crc32.ChecksumIEEE(make([]byte, n)); got != want {
			t.Errorf("crc32Zeros(%d) = %08x, want %08x", n, got, want)
		}
	}
}

func TestGzipBomb(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	for _, size := range []int64{0, 1000, 10<<20 + 123} {
		url := s.URL("h1.sim", "/gzip-bomb?size="+strconv.FormatInt(size, 10))
		resp, body := get(t, c, url)
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != int64(len(body)) {
			t.Errorf("size %d: Content-Encoding %q, Content-Length %d for %d bytes", size, resp.Header.Get("Content-Encoding"), resp.ContentLength, len(body))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		n, nonZero, err := countZeros(zr)
		if err != nil || n != size || nonZero {
			t.Errorf("size %d: inflated to %d bytes (non-zero %v, err %v)", size, n, nonZero, err)
		}
	}
	// The default bomb claims 1 GiB: it must be small on the wire; inflate a
	// prefix only.
	resp, err := c.Get(s.URL("h1.sim", "/gzip-bomb"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength <= 0 || resp.ContentLength > 2<<20 {
		t.Errorf("1 GiB bomb: Content-Length %d, want under 2 MiB", resp.ContentLength)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if n, nonZero, err := countZeros(io.LimitReader(zr, 8<<20)); n != 8<<20 || nonZero || err != nil {
		t.Errorf("1 GiB bomb prefix: %d bytes, non-zero %v, err %v", n, nonZero, err)
	}
}

func countZeros(r io.Reader) (n int64, nonZero bool, err error) {
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		for _, b := range buf[:k] {
			nonZero = nonZero || b != 0
		}
		n += int64(k)
		if err == io.EOF {
			return n, nonZero, nil
		}
		if err != nil {
			return n, nonZero, err
		}
	}
}

func TestEncodings(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	decode := map[string]func(io.Reader) (io.Reader, error){
		"gzip":    func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"deflate": func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) },
		"br":      func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
		"zstd": func(r io.Reader) (io.Reader, error) {
			d, err := zstd.NewReader(r)
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		},
	}
	for enc, dec := range decode {
		resp, body := get(t, c, s.URL("h1.sim", "/encoding/"+enc))
		if resp.Header.Get("Content-Encoding") != enc {
			t.Errorf("%s: Content-Encoding %q", enc, resp.Header.Get("Content-Encoding"))
		}
		r, err := dec(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, okPage) {
			t.Errorf("%s: decoded %d bytes (err %v), want the OK page", enc, len(got), err)
		}
	}
	_, body := get(t, c, s.URL("h1.sim", "/encoding/corrupt-gzip"))
	if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
		if _, err := io.ReadAll(zr); err == nil {
			t.Error("corrupt-gzip decoded without error")
		}
	}
	resp, body := get(t, c, s.URL("h1.sim", "/encoding/lying"))
	if _, err := gzip.NewReader(bytes.NewReader(body)); resp.Header.Get("Content-Encoding") != "gzip" || err == nil {
		t.Errorf("lying: Content-Encoding %q, gzip header error %v; want gzip and an error", resp.Header.Get("Content-Encoding"), err)
	}
	if resp, _ := get(t, c, s.URL("h1.sim", "/encoding/unknown")); resp.Header.Get("Content-Encoding") != "x-simweb" {
		t.Errorf("unknown: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
}

func TestFlakyAndEcho(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	var got []int
	for range 3 {
		resp, _ := get(t, c, s.URL("h1.sim", "/flaky/2?retry_after=0"))
		got = append(got, resp.StatusCode)
	}
	if got[0] != 503 || got[1] != 503 || got[2] != 200 {
		t.Errorf("/flaky/2: got %v, want [503 503 200]", got)
	}
	req, _ := http.NewRequest("POST", s.URL("h1.sim", "/echo?a=1"), strings.NewReader("hello"))
	req.Header.Set("X-Test", "yes")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"POST /echo?a=1 HTTP/1.1", "X-Test: yes", "body-bytes: 5", "Host: h1.sim:"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("echo lacks %q:\n%s", want, body)
		}
	}
}

func TestLatencyAndDelay(t *testing.T) {
	s := start(t, Config{})
	c := client(t, s)
	t0 := time.Now()
	resp, _ := get(t, c, s.URL("h1.sim", "/delay/150ms"))
	if el := time.Since(t0); resp.StatusCode != 200 || el < 140*time.Millisecond {
		t.Errorf("/delay/150ms: status %d after %v", resp.StatusCode, el)
	}
	t0 = time.Now()
	resp, _ = get(t, c, s.URL("h1.sim", "/latency/uniform?min=50ms&max=60ms"))
	if el := time.Since(t0); resp.StatusCode != 200 || el < 45*time.Millisecond {
		t.Errorf("uniform latency: status %d after %v", resp.StatusCode, el)
	}
	if d, err := time.ParseDuration(resp.Header.Get("X-Simweb-Latency")); err != nil || d < 50*time.Millisecond || d >= 60*time.Millisecond {
		t.Errorf("uniform latency header %q out of [50ms, 60ms)", resp.Header.Get("X-Simweb-Latency"))
	}
	if resp, _ := get(t, c, s.URL("h1.sim", "/latency/weird")); resp.StatusCode != 400 {
		t.Errorf("unknown distribution: got %d, want 400", resp.StatusCode)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "1MiB", "1.5GB", "-3k", "9e99", "kb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n, err := parseSize(v)
		if err == nil && (n < 0 || n > 1<<42) {
			t.Errorf("parseSize(%q) = %d", v, n)
		}
	})
}
