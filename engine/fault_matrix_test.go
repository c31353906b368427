package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
	"github.com/fanout/fanout/internal/simweb"
	"github.com/fanout/fanout/output"
)

// matrixHeapBound is the most the heap in use may rise, at any sampled
// moment, while the whole fault matrix runs, simulated web included. A 1 GiB body or a bomb read
// into memory, even once, would be far above it.
const matrixHeapBound = 64 << 20

// matrixMargin is the slack allowed on top of the time a row's config
// permits (timeouts, backoff and Retry-After waits): scheduling, the race
// detector and a busy shared machine.
const matrixMargin = 1500 * time.Millisecond

// hostileWeb is the loopback web the fault tests run against: simweb for
// every fault it knows, plus a small server of our own for compression
// bombs simweb does not serve (brotli, zstd) and an invalid charset.
type hostileWeb struct {
	sim   *simweb.Server
	extra *httptest.Server
	// resolve routes every host name on sim's ports to sim.
	resolve []fetch.Resolve
}

func startHostileWeb(t testing.TB) *hostileWeb {
	t.Helper()
	sim, err := simweb.Start(simweb.Config{Ports: 2, TLSPorts: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	w := &hostileWeb{sim: sim}
	for _, a := range sim.ResolveArgs() {
		r, err := fetch.ParseResolve(a)
		if err != nil {
			t.Fatalf("simweb resolve arg %q: %v", a, err)
		}
		w.resolve = append(w.resolve, r)
	}
	makeBombs()
	w.extra = httptest.NewServer(http.HandlerFunc(extraHandler))
	t.Cleanup(w.extra.Close)
	return w
}

// bombLimit is how many zero bytes a zstd bomb inflates to, at most, if
// the client kept reading.
const bombLimit = 1 << 30

// bombs holds compression bombs made once per test binary: making them per
// request would put the encoders' memory (an 8 MiB zstd history per
// response) into the heap the tests measure.
var bombs struct {
	once sync.Once
	// br is one brotli stream of 8 MiB of zeros with the largest standard
	// window (16 MiB, what a hostile server would pick to make the decoder
	// allocate), flushed every MiB so no meta-block is the last one and
	// the decoder cannot size its ring buffer down.
	br []byte
	// zstdFrame is one zstd frame of 16 MiB of zeros with an 8 MiB window;
	// frames concatenate, so it is sent over and over up to bombLimit.
	zstdFrame []byte
}

func makeBombs() {
	bombs.once.Do(func() {
		zeros := make([]byte, 1<<20)
		var b bytes.Buffer
		w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: 1, LGWin: 24})
		for range 8 {
			w.Write(zeros)
			w.Flush()
		}
		w.Close()
		bombs.br = b.Bytes()
		z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(8<<20), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		bombs.zstdFrame = z.EncodeAll(make([]byte, 16<<20), nil)
		z.Close()
	})
}

// extraHandler serves /br-bomb, /zstd-bomb and /bad-charset.
func extraHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/br-bomb":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Encoding", "br")
		w.Write(bombs.br)
	case "/zstd-bomb":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Encoding", "zstd")
		for n := 0; n < bombLimit && r.Context().Err() == nil; n += 16 << 20 {
			if _, err := w.Write(bombs.zstdFrame); err != nil {
				return
			}
		}
	case "/bad-charset":
		w.Header().Set("Content-Type", "text/html; charset=x-no-such-charset")
		io.WriteString(w, "<html><head><meta charset=\"x-no-such-charset\"><title>caf\xe9 \xff\xfe\x9b31m bad</title></head></html>")
	default:
		http.NotFound(w, r)
	}
}

// faultConfig is the engine config for the matrix: short timeouts, one
// retry, quick backoff, a 1 MiB body cap and five redirects at most.
func faultConfig(resolve []fetch.Resolve, insecure bool) engine.Config {
	c := engine.DefaultConfig()
	c.Limits.Concurrency = 16
	c.Retry.Max = 1
	c.Retry.Base = 50 * time.Millisecond
	c.Retry.Cap = 200 * time.Millisecond
	c.Retry.MaxWait = 3 * time.Second
	c.Request.Timeout = time.Second
	c.Request.ConnectTimeout = time.Second
	c.Request.MaxBody = 1 << 20
	c.Request.MaxRedirects = 5
	c.Request.Resolve = resolve
	c.Request.Insecure = insecure
	return c
}

// timeBound is the longest one target may take under c: every attempt
// timing out, the longest backoff (or the server's Retry-After) before each
// retry, plus matrixMargin.
func timeBound(c engine.Config, retryAfter time.Duration) time.Duration {
	attempts := time.Duration(c.Retry.Max + 1)
	wait := max(c.Retry.Cap, retryAfter)
	return attempts*c.Request.Timeout + time.Duration(c.Retry.Max)*wait + matrixMargin
}

// faultRow is one hostile behaviour and what the result must say about it.
type faultRow struct {
	name     string
	url      func(w *hostileWeb) string
	insecure bool // -k
	kind     fetch.ErrorKind
	status   int
	attempts int           // 0: not checked
	wait     time.Duration // Retry-After the server sends, for the time bound
	check    func(t *testing.T, r *fetch.Result)
}

func simPath(host, path string) func(w *hostileWeb) string {
	return func(w *hostileWeb) string { return w.sim.URL(host, path) }
}

func extraPath(path string) func(w *hostileWeb) string {
	return func(w *hostileWeb) string { return w.extra.URL + path }
}

// truncatedAtCap checks a body cut at the 1 MiB cap.
func truncatedAtCap(t *testing.T, r *fetch.Result) {
	t.Helper()
	if !r.Truncated || r.Bytes != 1<<20 {
		t.Errorf("truncated %v bytes %d, want true and %d", r.Truncated, r.Bytes, 1<<20)
	}
}

func messageHas(words ...string) func(t *testing.T, r *fetch.Result) {
	return func(t *testing.T, r *fetch.Result) {
		t.Helper()
		for _, w := range words {
			if !strings.Contains(r.Error.Message, w) {
				t.Errorf("message %q does not mention %q", r.Error.Message, w)
			}
		}
	}
}

func faultRows() []faultRow {
	// An HTTP-date two seconds ahead: the date has one-second resolution,
	// so the wait asked for is between one and two seconds.
	date := time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
	return []faultRow{
		{name: "silence before headers", url: simPath("silent.sim", "/fault/silence"),
			kind: fetch.KindTimeout, attempts: 2},
		{name: "silence mid-body", url: simPath("silent2.sim", "/fault/silence-body"),
			kind: fetch.KindTimeout, status: 200, attempts: 2,
			check: func(t *testing.T, r *fetch.Result) {
				if r.ContentLength == nil || *r.ContentLength != 4096 {
					t.Errorf("content_length %v, want 4096", r.ContentLength)
				}
			}},
		{name: "1 byte/s headers", url: simPath("slow.sim", "/fault/slow-headers"),
			kind: fetch.KindTimeout, attempts: 2},
		{name: "1 byte/s body", url: simPath("slow2.sim", "/fault/trickle"),
			kind: fetch.KindTimeout, status: 200, attempts: 2},
		{name: "endless body", url: simPath("big.sim", "/fault/endless"),
			status: 200, attempts: 1, check: truncatedAtCap},
		{name: "1 GiB body", url: simPath("big2.sim", "/size/1GiB"),
			status: 200, attempts: 1, check: func(t *testing.T, r *fetch.Result) {
				truncatedAtCap(t, r)
				if r.ContentLength == nil || *r.ContentLength != 1<<30 {
					t.Errorf("content_length %v, want %d", r.ContentLength, 1<<30)
				}
			}},
		{name: "gzip bomb", url: simPath("bomb.sim", "/gzip-bomb?size=1GiB"),
			status: 200, attempts: 1, check: truncatedAtCap},
		{name: "brotli bomb", url: extraPath("/br-bomb"),
			status: 200, attempts: 1, check: truncatedAtCap},
		{name: "zstd bomb", url: extraPath("/zstd-bomb"),
			status: 200, attempts: 1, check: truncatedAtCap},
		{name: "corrupt gzip keeps status", url: simPath("enc.sim", "/encoding/corrupt-gzip"),
			kind: fetch.KindProtocol, status: 200, attempts: 1},
		{name: "reset before reply", url: simPath("rst.sim", "/fault/reset"),
			kind: fetch.KindReset, attempts: 2},
		{name: "reset mid-body", url: simPath("rst2.sim", "/fault/reset-mid-body"),
			kind: fetch.KindReset, status: 200, attempts: 2},
		{name: "malformed status line", url: simPath("bad.sim", "/fault/malformed"),
			kind: fetch.KindProtocol, attempts: 1},
		{name: "invalid header bytes", url: simPath("bad2.sim", "/fault/bad-header"),
			kind: fetch.KindProtocol, attempts: 1},
		{name: "redirect loop", url: simPath("loop.sim", "/redirect-loop"),
			kind: fetch.KindTooManyRedirects, status: 302, attempts: 1,
			check: func(t *testing.T, r *fetch.Result) {
				// The first request made again ends the target, before
				// --max-redirects would.
				if len(r.Redirects) != 1 || !strings.HasPrefix(r.Error.Message, "redirect loop: back to ") {
					t.Errorf("%d redirects listed (%v), message %q; want 1 and the loop named", len(r.Redirects), r.Redirects, r.Error.Message)
				}
			}},
		{name: "redirect to ftp", url: simPath("ftp.sim", "/redirect-to?u=ftp://x/"),
			kind: fetch.KindInvalidURL, status: 302, attempts: 1, check: messageHas("ftp")},
		{name: "redirect to file", url: simPath("file.sim", "/redirect-to?u=file:///etc/passwd"),
			kind: fetch.KindInvalidURL, status: 302, attempts: 1, check: messageHas("file")},
		{name: "self-signed TLS", url: func(w *hostileWeb) string { return w.sim.TLSURL("self.sim", "/ok") },
			kind: fetch.KindTLS, attempts: 1},
		{name: "expired TLS", url: func(w *hostileWeb) string { return w.sim.TLSURL("expired.sim", "/ok") },
			kind: fetch.KindTLS, attempts: 1, check: messageHas("expired")},
		{name: "bare host with bad cert is tls, no http fallback",
			url: func(w *hostileWeb) string {
				return strings.TrimPrefix(w.sim.TLSURL("expired2.sim", "/ok"), "https://")
			},
			kind: fetch.KindTLS, attempts: 1,
			check: func(t *testing.T, r *fetch.Result) {
				if !strings.HasPrefix(r.FinalURL, "https://") {
					t.Errorf("final_url %q, want the https URL (no fallback)", r.FinalURL)
				}
			}},
		{name: "expired TLS with -k", insecure: true,
			url:    func(w *hostileWeb) string { return w.sim.TLSURL("expired.sim", "/ok") },
			status: 200, attempts: 1},
		{name: "unknown host", url: func(*hostileWeb) string { return "http://nohost.invalid/" },
			kind: fetch.KindDNS, attempts: 1},
		{name: "429 storm with Retry-After", url: simPath("busy.sim", "/status/429?retry_after=1"),
			status: 429, attempts: 2, wait: time.Second,
			check: func(t *testing.T, r *fetch.Result) {
				if output.DefaultAccept().OK(r) {
					t.Error("a 429 is accepted by the default --accept")
				}
			}},
		{name: "503 with HTTP-date Retry-After", url: simPath("down.sim", "/status/503?retry_after="+strings.ReplaceAll(date, " ", "%20")),
			status: 503, attempts: 2, wait: 2 * time.Second},
		{name: "title with escapes and script", url: simPath("evil.sim", "/title/escape"),
			status: 200, attempts: 1,
			check: func(t *testing.T, r *fetch.Result) {
				if !strings.Contains(r.Title, "red alert") || strings.Contains(r.Title, "pwned") {
					t.Errorf("title %q: want the <title> text, not the script's", r.Title)
				}
			}},
		{name: "invalid charset", url: extraPath("/bad-charset"),
			status: 200, attempts: 1,
			check: func(t *testing.T, r *fetch.Result) {
				if !utf8.ValidString(r.Title) || !strings.Contains(r.Title, "bad") {
					t.Errorf("title %q: want valid UTF-8 keeping the text", r.Title)
				}
			}},
	}
}

// heapSampler records the peak HeapInuse, sampled every 10 ms, and the
// heap in use when sampling began (after two collections, so what earlier
// tests left in sync.Pools is gone).
type heapSampler struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func sampleHeap() *heapSampler {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapSampler{stop: make(chan struct{}), base: ms.HeapInuse}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak in bytes, and how far it rose
// above the heap in use at the start.
func (h *heapSampler) Stop() (peak, growth uint64) {
	close(h.stop)
	h.done.Wait()
	peak = h.peak.Load()
	return peak, peak - min(peak, h.base)
}

// runOne fetches one target through a fresh engine and returns its result
// and how long the run took.
func runOne(t *testing.T, cfg engine.Config, line string) (fetch.Result, time.Duration) {
	t.Helper()
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tg := input.Parse(line)
	tg.Seq = 41
	start := time.Now()
	run := eng.Start(context.Background(), engine.SliceSource([]fetch.Target{tg}))
	var got []fetch.Result
	for r := range run.Results() {
		got = append(got, r)
	}
	elapsed := time.Since(start)
	if len(got) != 1 {
		t.Fatalf("%d results for one target, want 1", len(got))
	}
	if got[0].Seq != 41 {
		t.Errorf("seq %d, want 41", got[0].Seq)
	}
	return got[0], elapsed
}

// checkSafeOutput runs r through the text and jsonl encoders: no byte that
// drives a terminal may reach text output, and jsonl must be one valid
// UTF-8 JSON line that decodes to the same error kind and status.
func checkSafeOutput(t *testing.T, r *fetch.Result) {
	t.Helper()
	var text bytes.Buffer
	enc, err := output.NewEncoder("text", &text, output.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(text.String(), "\n")
	if strings.Count(text.String(), "\n") != 1 || !utf8.ValidString(line) {
		t.Errorf("text output is not one valid UTF-8 line: %q", text.String())
	}
	for _, c := range line {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) ||
			(c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) {
			t.Errorf("text output carries control or bidi character %U: %q", c, line)
			break
		}
	}

	var js bytes.Buffer
	enc, err = output.NewEncoder("jsonl", &js, output.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(js.Bytes()) || bytes.Count(js.Bytes(), []byte("\n")) != 1 {
		t.Errorf("jsonl output is not one valid UTF-8 line: %q", js.String())
	}
	var back struct {
		Status int
		Error  *fetch.Error
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("jsonl output does not decode: %v: %q", err, js.String())
	}
	if back.Status != r.Status || (back.Error == nil) != (r.Error == nil) ||
		(back.Error != nil && back.Error.Kind != r.Error.Kind) {
		t.Errorf("jsonl round trip: status %d error %v, want %d %v", back.Status, back.Error, r.Status, r.Error)
	}
}

// TestFaultMatrix fetches one target per hostile behaviour through the real
// engine and client and checks its classification, its fields, its time
// against the config's bound and that its output is safe; the whole matrix
// must stay under matrixHeapBound.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix takes a few seconds")
	}
	web := startHostileWeb(t)
	heap := sampleHeap()
	matrixStart := time.Now()
	t.Run("row", func(t *testing.T) {
		for _, row := range faultRows() {
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				cfg := faultConfig(web.resolve, row.insecure)
				if row.kind != fetch.KindTimeout {
					// A row about another fault must not time out by the
					// machine's load: every row runs at once, under -race,
					// and on a loaded 2-core runner a 1 s attempt at the
					// quick corrupt-gzip reply timed out once, its retry
					// making 2 attempts where the row wants 1.
					cfg.Request.Timeout, cfg.Request.ConnectTimeout = 5*time.Second, 5*time.Second
				}
				line := row.url(web)
				r, elapsed := runOne(t, cfg, line)
				bound := timeBound(cfg, row.wait)
				kind := fetch.ErrorKind("")
				if r.Error != nil {
					kind = r.Error.Kind
				}
				t.Logf("%-48s kind=%-18s status=%3d attempts=%d bytes=%d elapsed=%v bound=%v",
					row.name, orNone(kind), r.Status, r.Attempts, r.Bytes, elapsed.Round(time.Millisecond), bound)
				if kind != row.kind {
					msg := ""
					if r.Error != nil {
						msg = r.Error.Message
					}
					t.Errorf("%s: error kind %q (%s), want %q", line, kind, msg, orNone(row.kind))
				}
				if r.Status != row.status {
					t.Errorf("%s: status %d, want %d", line, r.Status, row.status)
				}
				if row.attempts != 0 && r.Attempts != row.attempts {
					t.Errorf("%s: %d attempts, want %d", line, r.Attempts, row.attempts)
				}
				if elapsed > bound {
					t.Errorf("%s: took %v, bound %v", line, elapsed, bound)
				}
				if r.Error != nil && output.DefaultAccept().OK(&r) {
					t.Errorf("%s: a result with an error is accepted", line)
				}
				if row.check != nil {
					row.check(t, &r)
				}
				checkSafeOutput(t, &r)
			})
		}
	})
	peak, growth := heap.Stop()
	t.Logf("fault matrix: %d rows in %v, peak heap in use %.1f MiB, %.1f MiB above the start (bound %d MiB)",
		len(faultRows()), time.Since(matrixStart).Round(time.Millisecond),
		float64(peak)/(1<<20), float64(growth)/(1<<20), matrixHeapBound>>20)
	if growth > matrixHeapBound {
		t.Errorf("heap in use rose by %d bytes, bound %d", growth, matrixHeapBound)
	}
}

func orNone(k fetch.ErrorKind) string {
	if k == "" {
		return "none"
	}
	return string(k)
}
