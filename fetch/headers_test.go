package fetch

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestResponseHeaders: with Options.ResponseHeaders a result carries the
// final response's headers as sent (canonical names, every value in
// order: both Set-Cookie, Content-Encoding although the body was decoded),
// over HTTP/1.1 and HTTP/2; without it, none. Either way ContentEncoding
// names the coding the body was decoded from.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	gz := encode(t, "gzip", page)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hop" {
					w.Header().Set("X-Hop", "1")
					http.Redirect(w, r, "/page", http.StatusFound)
					return
				}
				h := w.Header()
				h.Set("ETag", `"v1-abc"`)
				h.Set("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
				h.Add("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/")
				h.Add("Set-Cookie", "b=2")
				h.Set("Content-Type", "text/html")
				h.Set("Content-Encoding", "gzip")
				w.Write(gz)
			}))
			ts.EnableHTTP2 = h2
			ts.StartTLS()
			t.Cleanup(ts.Close)
			pool := x509.NewCertPool()
			pool.AddCert(ts.Certificate())
			opts := func(keep bool) func(*Options) {
				return func(o *Options) {
					o.RootCAs, o.HTTP1, o.ResponseHeaders = pool, !h2, keep
					o.ConnectTimeout, o.Timeout = 10*time.Second, 20*time.Second // handshakes under -race
				}
			}

			r := get(newTestClient(t, opts(true)), ts.URL+"/hop")
			wantKind(t, r, "")
			if r.Bytes != int64(len(page)) || r.BodySHA256 != sha(page) {
				t.Errorf("bytes %d sha %s, want the decoded page's %d %s", r.Bytes, r.BodySHA256, len(page), sha(page))
			}
			if r.ContentEncoding != "gzip" {
				t.Errorf("content encoding %q, want gzip", r.ContentEncoding)
			}
			for name, want := range map[string][]string{
				"Etag":             {`"v1-abc"`},
				"Last-Modified":    {"Wed, 21 Oct 2015 07:28:00 GMT"},
				"Set-Cookie":       {"a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/", "b=2"},
				"Content-Encoding": {"gzip"},
				"Content-Type":     {"text/html"},
			} {
				if got := r.Header[name]; !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q (all: %q)", name, got, want, r.Header)
				}
			}
			if v, ok := r.Header["X-Hop"]; ok {
				t.Errorf("X-Hop %q kept: the headers are the final response's, not a redirect's", v)
			}
			if r.HeadersTruncated {
				t.Error("headers marked truncated")
			}

			r = get(newTestClient(t, opts(false)), ts.URL+"/page")
			wantKind(t, r, "")
			if r.Header != nil || r.HeadersTruncated {
				t.Errorf("headers kept without ResponseHeaders: %q", r.Header)
			}
			if r.ContentEncoding != "gzip" {
				t.Errorf("without ResponseHeaders: content encoding %q, want gzip", r.ContentEncoding)
			}
		})
	}
}

// TestResponseHeadersBound: headers past maxHeadersKept are left out,
// whole values in name order, and the result says so; the small ones after
// a value too long for the room left are still kept.
func TestResponseHeadersBound(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for i := range 5 {
			h.Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("x", 7<<10))
		}
		h.Set("Y-Late", "kept")
		fmt.Fprint(w, "ok")
	})
	r := get(newTestClient(t, func(o *Options) { o.ResponseHeaders = true }), ts.URL)
	wantKind(t, r, "")
	if !r.HeadersTruncated {
		t.Error("headers over the bound not marked truncated")
	}
	n := 0
	for name, vs := range r.Header {
		for _, v := range vs {
			n += len(name) + len(v)
		}
	}
	if n > maxHeadersKept {
		t.Errorf("%d bytes of headers kept, want at most %d", n, maxHeadersKept)
	}
	if _, ok := r.Header["X-Pad-4"]; ok {
		t.Error("X-Pad-4 kept: the fifth 7 KiB value does not fit")
	}
	if got := r.Header.Get("Y-Late"); got != "kept" {
		t.Errorf("Y-Late = %q, want kept (it fits after the value skipped)", got)
	}
	for _, name := range []string{"Content-Length", "Date", "X-Pad-0", "X-Pad-3"} {
		if _, ok := r.Header[name]; !ok {
			t.Errorf("%s left out, want it kept (in name order, within the bound)", name)
		}
	}
}

// TestContentEncoding: ContentEncoding names the codings undone, and is ""
// for a body read as sent.
func TestContentEncoding(t *testing.T) {
	t.Parallel()
	gz := encode(t, "gzip", page)
	bodies := map[string][]byte{
		"gzip": gz, "x-gzip": gz, "GZIP": gz, "br": encode(t, "br", page), "zstd": encode(t, "zstd", page),
		"deflate": encode(t, "deflate", page), "gzip, br": encode(t, "br", gz),
		"identity": page, "": page, "compress": gz, "gzip, snappy": gz,
	}
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		c := r.URL.Query().Get("c")
		if c != "" {
			w.Header().Set("Content-Encoding", c)
		}
		if r.URL.Query().Has("empty") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write(bodies[c])
	})
	c := newTestClient(t, nil)
	for _, tc := range []struct{ coding, query, want string }{
		{"gzip", "", "gzip"},
		{"x-gzip", "", "gzip"},
		{"GZIP", "", "gzip"},
		{"br", "", "br"},
		{"zstd", "", "zstd"},
		{"deflate", "", "deflate"},
		{"gzip, br", "", "gzip, br"},
		{"identity", "", ""},
		{"", "", ""},
		{"compress", "", ""},     // unknown: passed through undecoded
		{"gzip, snappy", "", ""}, // one unknown: the whole body as sent
		{"gzip", "&empty", ""},   // nothing to decode
	} {
		t.Run(tc.coding+tc.query, func(t *testing.T) {
			r := get(c, ts.URL+"/?c="+strings.ReplaceAll(tc.coding, " ", "+")+tc.query)
			wantKind(t, r, "")
			if r.ContentEncoding != tc.want {
				t.Errorf("content encoding %q, want %q", r.ContentEncoding, tc.want)
			}
		})
	}
}

// TestResponseHeadersManyValues: a reply of thousands of one-letter
// header lines, within the transport's 256 KiB and counting little
// against the 32 KiB bound, keeps at most maxHeaderValuesKept values:
// each costs 32 bytes besides its own, and 20,000 of them kept a
// result's headers at over half a megabyte. The first in name order are
// kept, and the result says some were left out.
func TestResponseHeadersManyValues(t *testing.T) {
	t.Parallel()
	const lines = 20000
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for range lines {
			h.Add("A", "x")
		}
		h.Set("B", "kept?")
		fmt.Fprint(w, "ok")
	})
	r := get(newTestClient(t, func(o *Options) { o.ResponseHeaders = true }), ts.URL)
	wantKind(t, r, "")
	values := 0
	for _, vs := range r.Header {
		values += len(vs)
	}
	if !r.HeadersTruncated || values > maxHeaderValuesKept {
		t.Errorf("%d values kept (truncated: %v), want at most %d, marked truncated", values, r.HeadersTruncated, maxHeaderValuesKept)
	}
	if len(r.Header["A"]) != maxHeaderValuesKept {
		t.Errorf("%d values of A kept, want the first %d in name order", len(r.Header["A"]), maxHeaderValuesKept)
	}
}
