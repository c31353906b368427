package simweb

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// route dispatches on the path language described in the package doc.
func (s *Server) route(w http.ResponseWriter, r *http.Request, host string, hs *hostState) {
	p := r.URL.Path
	if p == "/" || p == "/ok" || strings.HasPrefix(p, "/ok/") {
		serveOK(w)
		return
	}
	if rest, ok := strings.CutPrefix(p, "/fault/"); ok {
		s.serveFault(w, r, rest)
		return
	}
	switch {
	case strings.HasPrefix(p, "/status/"):
		s.serveStatus(w, r, p[len("/status/"):])
	case strings.HasPrefix(p, "/delay/"):
		d, err := parseDuration(p[len("/delay/"):])
		if err != nil {
			badRequest(w, "bad duration in "+p)
			return
		}
		if s.sleep(r, d) {
			serveOK(w)
		}
	case strings.HasPrefix(p, "/latency/"):
		s.serveLatency(w, r, host, p[len("/latency/"):])
	case strings.HasPrefix(p, "/redirect/"):
		serveRedirectChain(w, r, p[len("/redirect/"):])
	case p == "/redirect-loop":
		redirect(w, r, "/redirect-loop"+query(r), 302)
	case p == "/redirect-to":
		q := r.URL.Query()
		redirect(w, r, q.Get("u"), 302)
	case strings.HasPrefix(p, "/title/"):
		serveTitle(w, r, p[len("/title/"):])
	case strings.HasPrefix(p, "/size/"):
		s.serveSize(w, r, p[len("/size/"):])
	case p == "/gzip-bomb":
		s.serveBomb(w, r)
	case strings.HasPrefix(p, "/encoding/"):
		serveEncoding(w, p[len("/encoding/"):])
	case p == "/mix":
		s.serveMix(w, r, host)
	case p == "/page" || strings.HasPrefix(p, "/page/"):
		s.servePage(w, r, host, hs)
	case strings.HasPrefix(p, "/flaky/"):
		s.serveFlaky(w, r, host, p[len("/flaky/"):])
	case p == "/echo":
		serveEcho(w, r)
	case p == "/robots.txt":
		w.Header()["Content-Type"] = hvText
		io.WriteString(w, "User-agent: *\nDisallow: /private/\n")
	default:
		writeStatus(w, http.StatusNotFound)
	}
}

func query(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func serveOK(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hvHTML
	h["Content-Length"] = hvOKLen
	w.Write(okPage)
}

func writeStatus(w http.ResponseWriter, code int) {
	h := w.Header()
	h["Content-Type"] = hvHTML
	w.WriteHeader(code)
	if code != http.StatusNoContent && code != http.StatusNotModified {
		w.Write(statusPage(code))
	}
}

func badRequest(w http.ResponseWriter, msg string) {
	w.Header()["Content-Type"] = hvText
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, "simweb: "+msg+"\n")
}

// sleep waits d unless the client leaves (it then reports false) or the
// server closes (it then aborts the handler, see abort).
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
		abort()
	}
	return false
}

// abort ends a held handler when the server closes. Returning normally
// would let net/http complete the reply (an empty 200, or a clean end of a
// chunked body), so a client would see success; ErrAbortHandler breaks the
// connection instead, and net/http does not log it.
func abort() {
	panic(http.ErrAbortHandler)
}

// maxDelay bounds any requested delay; the server's lifetime bounds it too.
const maxDelay = time.Hour

// parseDuration accepts Go durations ("100ms", "2s") and bare milliseconds.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		ms, err2 := strconv.ParseFloat(v, 64)
		if err2 != nil {
			return 0, err
		}
		d = time.Duration(ms * float64(time.Millisecond))
	}
	if d < 0 {
		d = 0
	}
	return min(d, maxDelay), nil
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, v string) {
	code, err := strconv.Atoi(v)
	if err != nil || code < 200 || code > 999 {
		badRequest(w, "status must be 200..999, got "+strconv.Quote(v))
		return
	}
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		if ra := q.Get("retry_after"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		if loc := q.Get("location"); loc != "" {
			w.Header().Set("Location", loc)
		}
	}
	if code >= 300 && code < 400 && w.Header().Get("Location") == "" {
		w.Header().Set("Location", "/ok")
	}
	writeStatus(w, code)
}

// serveLatency sleeps for a sample of the named distribution, drawn from
// an RNG seeded by hash(seed, host, path, query): the same URL always
// waits the same time, and distinct URLs sample the distribution.
func (s *Server) serveLatency(w http.ResponseWriter, r *http.Request, host, dist string) {
	q := r.URL.Query()
	dur := func(name string, def time.Duration) time.Duration {
		if d, err := parseDuration(q.Get(name)); err == nil {
			return d
		}
		return def
	}
	num := func(name string, def float64) float64 {
		if f, err := strconv.ParseFloat(q.Get(name), 64); err == nil && f > 0 {
			return f
		}
		return def
	}
	g := newRNG(s.urlHash("latency", host, r))
	limit := dur("max", pageLatencyCap)
	var d time.Duration
	switch dist {
	case "lognormal":
		d = g.lognormal(dur("median", 50*time.Millisecond), num("sigma", 1), limit)
	case "uniform":
		lo, hi := dur("min", 0), dur("max", 100*time.Millisecond)
		d = lo
		if hi > lo {
			d += time.Duration(g.float() * float64(hi-lo))
		}
	case "pareto":
		d = g.pareto(dur("min", 10*time.Millisecond), num("alpha", 1.5), limit)
	default:
		badRequest(w, "unknown latency distribution "+strconv.Quote(dist))
		return
	}
	if s.sleep(r, d) {
		w.Header().Set("X-Simweb-Latency", d.String())
		serveOK(w)
	}
}

// urlHash hashes the seed, a purpose tag, the host and the request's path
// and query.
func (s *Server) urlHash(tag, host string, r *http.Request) uint64 {
	h := hashString(seedHash(s.cfg.Seed, tag), host)
	h = hashString(h, r.URL.Path)
	return hashString(h, r.URL.RawQuery)
}

var redirectCodes = []int{301, 302, 303, 307, 308}

// serveRedirectChain answers /redirect/N with a redirect to /redirect/N-1,
// so N redirects end at /redirect/0, which serves the OK page.
func serveRedirectChain(w http.ResponseWriter, r *http.Request, v string) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		badRequest(w, "bad redirect count "+strconv.Quote(v))
		return
	}
	if n == 0 {
		serveOK(w)
		return
	}
	code := 302
	target := "/redirect/" + strconv.Itoa(n-1) + query(r)
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		if c, err := strconv.Atoi(q.Get("code")); err == nil && slices.Contains(redirectCodes, c) {
			code = c
		}
		if q.Get("abs") == "1" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			target = scheme + "://" + r.Host + target
		}
	}
	redirect(w, r, target, code)
}

func redirect(w http.ResponseWriter, r *http.Request, location string, code int) {
	if r.URL.Path == "/redirect-to" {
		if c, err := strconv.Atoi(r.URL.Query().Get("code")); err == nil && slices.Contains(redirectCodes, c) {
			code = c
		}
	}
	// Set the header raw: http.Redirect would clean or resolve the target,
	// and tests need odd Locations (ftp://, relative, garbage) verbatim.
	w.Header().Set("Location", location)
	writeStatus(w, code)
}

var titleCache sync.Map // "name\x00declare" -> titleEntry

type titleEntry struct {
	body []byte
	ct   []string
}

func serveTitle(w http.ResponseWriter, r *http.Request, name string) {
	declare := ""
	if r.URL.RawQuery != "" {
		declare = r.URL.Query().Get("declare")
	}
	key := name + "\x00" + declare
	e, ok := titleCache.Load(key)
	if !ok {
		body, ct, found := titlePage(name, declare)
		if !found {
			writeStatus(w, http.StatusNotFound)
			return
		}
		e, _ = titleCache.LoadOrStore(key, titleEntry{body: body, ct: []string{ct}})
	}
	te := e.(titleEntry)
	w.Header()["Content-Type"] = te.ct
	w.Header().Set("Content-Length", strconv.Itoa(len(te.body)))
	w.Write(te.body)
}

func serveEncoding(w http.ResponseWriter, name string) {
	h := w.Header()
	h["Content-Type"] = hvHTML
	switch name {
	case "lying":
		h["Content-Encoding"] = hvGzip
		w.Write(okPage)
		return
	case "unknown":
		h.Set("Content-Encoding", "x-simweb")
		w.Write(okPage)
		return
	}
	body, ok := encodedPages()[name]
	if !ok {
		writeStatus(w, http.StatusNotFound)
		return
	}
	enc := name
	if name == "corrupt-gzip" {
		enc = "gzip"
	}
	h.Set("Content-Encoding", enc)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// mixStatuses and mixWeights are the /mix distribution (weights in %).
var (
	mixStatuses = []int{200, 301, 302, 404, 410, 500, 503}
	mixWeights  = []float64{80, 3, 4, 6, 1, 3, 3}
)

// mixStatus returns the /mix status for a URL.
func mixStatus(seed uint64, host, path, rawQuery string) int {
	h := hashString(hashString(hashString(seedHash(seed, "mix"), host), path), rawQuery)
	return mixStatuses[pick(mixWeights, newRNG(h).float())]
}

func (s *Server) serveMix(w http.ResponseWriter, r *http.Request, host string) {
	code := mixStatus(s.cfg.Seed, host, r.URL.Path, r.URL.RawQuery)
	switch code {
	case 200:
		serveOK(w)
		return
	case 301, 302:
		w.Header().Set("Location", "/ok")
	case 503:
		w.Header()["Retry-After"] = hvRetryAfter1
	}
	writeStatus(w, code)
}

// servePage serves /page/... from the host's profile: a latency drawn from
// its distribution, then an error at its error rate, a few 404s and
// redirects, and otherwise a page titled after the host and path.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, host string, hs *hostState) {
	pr := hs.profile
	g := newRNG(s.urlHash("page", host, r))
	d := g.lognormal(pr.Median, pr.Sigma, pageLatencyCap)
	u := g.float()
	if !s.sleep(r, d) {
		return
	}
	switch {
	case u < pr.ErrorRate/2:
		writeStatus(w, http.StatusInternalServerError)
	case u < pr.ErrorRate:
		w.Header()["Retry-After"] = hvRetryAfter1
		writeStatus(w, http.StatusServiceUnavailable)
	case u < pr.ErrorRate+0.02:
		writeStatus(w, http.StatusNotFound)
	case u < pr.ErrorRate+0.04:
		w.Header().Set("Location", "/ok")
		writeStatus(w, http.StatusMovedPermanently)
	default:
		title := html.EscapeString(host + " " + r.URL.Path)
		w.Header()["Content-Type"] = hvHTML
		io.WriteString(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>"+title+
			"</title></head><body><h1>"+title+"</h1><p>profile "+pr.Name+"</p>"+
			string(okPage[200:900])+"</body></html>\n")
	}
}

// serveFlaky answers 503 to the first N requests for a host and URL, then
// the OK page: a retry test's server.
func (s *Server) serveFlaky(w http.ResponseWriter, r *http.Request, host, v string) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		badRequest(w, "bad failure count "+strconv.Quote(v))
		return
	}
	key := host + " " + r.URL.RequestURI()
	s.flakyMu.Lock()
	seen := s.flaky[key]
	s.flaky[key] = seen + 1
	s.flakyMu.Unlock()
	if seen >= n {
		serveOK(w)
		return
	}
	if ra := r.URL.Query().Get("retry_after"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	writeStatus(w, http.StatusServiceUnavailable)
}

// serveEcho describes the request as plain text: method, URI, host, then
// the headers sorted by name, then the body's length.
func serveEcho(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.URL.RequestURI() + " " + r.Proto + "\nHost: " + r.Host + "\n")
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	b.WriteString("\nbody-bytes: " + strconv.FormatInt(n, 10) + "\n")
	w.Header()["Content-Type"] = hvText
	io.WriteString(w, b.String())
}

// parseSize reads sizes like "1024", "10KiB", "1MB", "1GiB" (case-insensitive).
func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
	}
	lv := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(lv, u.suffix); ok {
			lv, mult = num, u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(lv, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<42 {
		return 0, fmt.Errorf("simweb: bad size %q", v)
	}
	return int64(f * float64(mult)), nil
}
