package fetch

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func redirectServer(t *testing.T) (base string) {
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/chain/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/chain/"))
			if n == 0 {
				fmt.Fprint(w, "<title>end</title>")
				return
			}
			code := []int{301, 302, 303, 307, 308}[n%5]
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), code)
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case r.URL.Path == "/ping":
			http.Redirect(w, r, "/pong", http.StatusFound)
		case r.URL.Path == "/pong":
			http.Redirect(w, r, "/ping#x", http.StatusMovedPermanently)
		case r.URL.Path == "/post-again":
			// 303 turns the POST into a GET of the same URL: no loop.
			if r.Method == http.MethodPost {
				http.Redirect(w, r, "/post-again", http.StatusSeeOther)
				return
			}
			fmt.Fprint(w, "ok")
		case r.URL.Path == "/ftp":
			w.Header().Set("Location", "ftp://example.invalid/file")
			w.WriteHeader(http.StatusFound)
		case r.URL.Path == "/nolocation":
			w.WriteHeader(http.StatusMovedPermanently)
		default:
			fmt.Fprint(w, "ok")
		}
	})
	return ts.URL
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	base := redirectServer(t)
	tests := []struct {
		name       string
		path       string
		mod        func(*Options)
		wantStatus int
		wantKind   ErrorKind
		wantHops   []Hop
		wantFinal  string
		wantLoc    string // Location, after the base URL unless it has a scheme
	}{
		{name: "chain", path: "/chain/3", wantStatus: 200, wantFinal: "/chain/0",
			wantHops: []Hop{{"/chain/3", 307}, {"/chain/2", 303}, {"/chain/1", 302}}},
		// A loop ends at the first request made again, not at --max-redirects.
		{name: "loop", path: "/loop", mod: func(o *Options) { o.MaxRedirects = 4 },
			wantStatus: 302, wantKind: KindTooManyRedirects, wantFinal: "/loop",
			wantHops: []Hop{{"/loop", 302}}, wantLoc: "/loop"},
		{name: "two-hop loop", path: "/ping",
			wantStatus: 301, wantKind: KindTooManyRedirects, wantFinal: "/pong",
			wantHops: []Hop{{"/ping", 302}, {"/pong", 301}}, wantLoc: "/ping#x"},
		{name: "same URL, other method", path: "/post-again", mod: func(o *Options) { o.Body = []byte("x") },
			wantStatus: 200, wantFinal: "/post-again", wantHops: []Hop{{"/post-again", 303}}},
		{name: "max-redirects 0", path: "/chain/1", mod: func(o *Options) { o.MaxRedirects = 0 },
			wantStatus: 302, wantKind: KindTooManyRedirects, wantFinal: "/chain/1", wantHops: []Hop{{"/chain/1", 302}}, wantLoc: "/chain/0"},
		{name: "max-redirects exact", path: "/chain/2", mod: func(o *Options) { o.MaxRedirects = 2 },
			wantStatus: 200, wantFinal: "/chain/0", wantHops: []Hop{{"/chain/2", 303}, {"/chain/1", 302}}},
		{name: "no follow", path: "/chain/2", mod: func(o *Options) { o.Follow = false },
			wantStatus: 303, wantFinal: "/chain/2", wantHops: []Hop{{"/chain/2", 303}}, wantLoc: "/chain/1"},
		{name: "ftp", path: "/ftp", wantStatus: 302, wantKind: KindInvalidURL, wantFinal: "/ftp", wantHops: []Hop{{"/ftp", 302}},
			wantLoc: "ftp://example.invalid/file"},
		{name: "3xx without location", path: "/nolocation", wantStatus: 301, wantFinal: "/nolocation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, tt.mod)
			r := get(c, base+tt.path)
			wantKind(t, r, tt.wantKind)
			if r.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.Status, tt.wantStatus)
			}
			if r.FinalURL != base+tt.wantFinal {
				t.Errorf("final_url = %q, want %q", r.FinalURL, base+tt.wantFinal)
			}
			wantLoc := tt.wantLoc
			if strings.HasPrefix(wantLoc, "/") {
				wantLoc = base + wantLoc
			}
			if r.Location != wantLoc {
				t.Errorf("location = %q, want %q", r.Location, wantLoc)
			}
			if len(r.Redirects) != len(tt.wantHops) {
				t.Fatalf("redirects = %v, want %v", r.Redirects, tt.wantHops)
			}
			for i, h := range tt.wantHops {
				if got := r.Redirects[i]; got.URL != base+h.URL || got.Status != h.Status {
					t.Errorf("hop %d = %+v, want %s%s %d", i, got, base, h.URL, h.Status)
				}
			}
		})
	}
	t.Run("loop message", func(t *testing.T) {
		r := get(newTestClient(t, nil), base+"/ping")
		if want := "redirect loop: back to " + base + "/ping after 2 redirects"; r.Error == nil || r.Error.Message != want {
			t.Errorf("error = %+v, want the message %q", r.Error, want)
		}
	})
	t.Run("ftp message names the scheme", func(t *testing.T) {
		r := get(newTestClient(t, nil), base+"/ftp")
		if r.Error == nil || !strings.Contains(r.Error.Message, "ftp") {
			t.Errorf("error = %+v, want a message naming ftp", r.Error)
		}
	})
}

// TestRedirectMethod checks that 303 turns a POST into a body-less GET and
// 307 keeps both.
func TestRedirectMethod(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gotMethod, gotBody, gotCT string
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/303":
			http.Redirect(w, r, "/target", http.StatusSeeOther)
		case "/307":
			http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
		case "/target":
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			gotMethod, gotBody, gotCT = r.Method, string(b), r.Header.Get("Content-Type")
			mu.Unlock()
		}
	})
	tests := []struct{ path, method, body, ct string }{
		{"/303", "GET", "", ""},
		{"/307", "POST", "a=1", "application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		c := newTestClient(t, func(o *Options) { o.Body = []byte("a=1") })
		r := get(c, ts.URL+tt.path)
		wantKind(t, r, "")
		if r.Method != "POST" {
			t.Errorf("%s: result method = %q, want the first hop's POST", tt.path, r.Method)
		}
		mu.Lock()
		if gotMethod != tt.method || gotBody != tt.body || gotCT != tt.ct {
			t.Errorf("%s: target saw %s %q (Content-Type %q), want %s %q (%q)",
				tt.path, gotMethod, gotBody, gotCT, tt.method, tt.body, tt.ct)
		}
		mu.Unlock()
	}
}

// TestRedirectCredentials checks curl's rule: -H Authorization and Cookie
// follow a redirect on the same scheme, host and port only.
func TestRedirectCredentials(t *testing.T) {
	t.Parallel()
	type seen struct{ auth, cookie string }
	var mu sync.Mutex
	got := map[string]seen{}
	echo := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[name] = seen{r.Header.Get("Authorization"), r.Header.Get("Cookie")}
			mu.Unlock()
		}
	}
	other := serve(t, echo("other"))
	var self string
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, self+"/echo", http.StatusFound)
		case "/cross":
			http.Redirect(w, r, other.URL+"/echo", http.StatusFound)
		default:
			echo("self")(w, r)
		}
	})
	self = ts.URL
	c := newTestClient(t, func(o *Options) {
		o.Header = http.Header{"Authorization": {"Bearer s3cret"}, "Cookie": {"id=1"}}
	})
	for _, path := range []string{"/same", "/cross"} {
		wantKind(t, get(c, ts.URL+path), "")
	}
	mu.Lock()
	defer mu.Unlock()
	if s := got["self"]; s.auth != "Bearer s3cret" || s.cookie != "id=1" {
		t.Errorf("same origin saw %+v, want credentials kept", s)
	}
	if s := got["other"]; s.auth != "" || s.cookie != "" {
		t.Errorf("other port saw %+v, want credentials dropped", s)
	}
}

// A timeout after a redirect says where it happened: at a next hop that
// never answered ("waiting for a response", though the status is the
// redirect's), or in the redirect's own body (final_url the redirect, not a
// next hop that was never asked).
func TestTimeoutAfterRedirectSaysWhere(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	silent := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	trickle := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		w.Header().Set("Location", "/next")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusFound)
		for range 100 {
			if _, err := w.Write([]byte("r")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
	})
	toSilent := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, silent.URL+"/", http.StatusFound)
	})
	c := newTestClient(t, func(o *Options) { o.Timeout = 500 * time.Millisecond })

	r := get(c, toSilent.URL+"/")
	wantKind(t, r, KindTimeout)
	if r.FinalURL != silent.URL+"/" || !strings.Contains(r.Error.Message, "waiting for a response") {
		t.Errorf("redirect to a silent server: final_url %q message %q; want %s/ and waiting for a response", r.FinalURL, r.Error.Message, silent.URL)
	}

	r = get(c, trickle.URL+"/")
	wantKind(t, r, KindTimeout)
	if r.FinalURL != trickle.URL+"/" || r.Status != 302 || !strings.Contains(r.Error.Message, "reading the body") {
		t.Errorf("redirect with a trickling body: final_url %q status %d message %q; want %s/, 302 and reading the body", r.FinalURL, r.Status, r.Error.Message, trickle.URL)
	}
}

// A redirect to an IPv4 address written other than as a dotted quad is
// refused as invalid_url, as the same host on an input line is: resolvers
// disagree on what "0x7f.0.0.1" or "2130706433" means, and Go's would look
// it up in DNS. (Every host on the server's port resolves to it here, so
// the unfixed client followed each of them, and no lookup is ever made.)
func TestRedirectToAmbiguousIPv4(t *testing.T) {
	t.Parallel()
	var port string
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			w.Header().Set("Location", "http://"+to+":"+port+"/end")
			w.WriteHeader(http.StatusFound)
			return
		}
		fmt.Fprint(w, "ok")
	})
	u, _ := url.Parse(ts.URL)
	port = u.Port()
	p, _ := strconv.Atoi(port)
	c := newTestClient(t, func(o *Options) {
		o.Resolve = []Resolve{{Host: "*", Port: p, Addrs: []string{"127.0.0.1"}}}
	})
	for _, host := range []string{"0x7f.0.0.1", "0X7F000001", "2130706433", "127.1", "0127.0.0.1", "127.0.0.1."} {
		r := get(c, ts.URL+"/?to="+host)
		wantKind(t, r, KindInvalidURL)
		if r.Error != nil && !strings.Contains(r.Error.Message, "invalid ipv4 address") {
			t.Errorf("%s: message %q, want it to say invalid ipv4 address", host, r.Error.Message)
		}
		if r.Status != http.StatusFound || len(r.Redirects) != 1 {
			t.Errorf("%s: status %d after %d redirects, want the 302 as the final response", host, r.Status, len(r.Redirects))
		}
	}
	// The dotted quad itself is followed.
	if r := get(c, ts.URL+"/?to=127.0.0.1"); r.Error != nil || r.Status != http.StatusOK {
		t.Errorf("redirect to 127.0.0.1: %d %+v, want 200", r.Status, r.Error)
	}
}

// TestLongHeaderValuesAreCapped: a result keeps at most maxHeaderValue
// bytes of Server and Content-Type, and a redirect to a URL longer than
// maxRedirectURL is not followed; its Location is kept cut. Uncapped, one
// response's headers (up to MaxHeaderBytes, 1 MiB then) went whole into the result, and a chain of
// long redirects into every hop's URL: megabytes a result, times the
// results that wait in the window.
func TestLongHeaderValuesAreCapped(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("é", 60<<10) // two bytes each: a cut must not split one; both within MaxHeaderBytes
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/headers":
			w.Header().Set("Server", "x"+big)
			w.Header().Set("Content-Type", "text/html; x="+big)
			fmt.Fprint(w, "<title>kept</title>")
		case "/long":
			w.Header().Set("Location", "/end?"+strings.Repeat("a", maxRedirectURL))
			w.WriteHeader(http.StatusFound)
		case "/edge": // the longest Location that is followed; its fragment is not requested
			w.Header().Set("Location", "/end?"+strings.Repeat("a", maxRedirectURL-len(r.Host)-len("http:///end?"))+"#"+strings.Repeat("f", 100))
			w.WriteHeader(http.StatusFound)
		default:
			fmt.Fprint(w, "end")
		}
	})
	c := newTestClient(t, nil)

	r := get(c, ts.URL+"/headers")
	if r.Error != nil || r.Title != "kept" {
		t.Fatalf("/headers: %+v, title %q; want a title and no error", r.Error, r.Title)
	}
	for name, v := range map[string]string{"Server": r.Server, "Content-Type": r.ContentType} {
		if len(v) > maxHeaderValue+len("...") || !strings.HasSuffix(v, "...") || !utf8.ValidString(v) {
			t.Errorf("%s: %d bytes, ends %q, valid UTF-8 %v; want at most %d bytes and ..., cut between characters",
				name, len(v), v[max(0, len(v)-8):], utf8.ValidString(v), maxHeaderValue+3)
		}
	}

	r = get(c, ts.URL+"/long")
	wantKind(t, r, KindInvalidURL)
	if r.Error != nil && !strings.Contains(r.Error.Message, "not followed") {
		t.Errorf("/long: message %q, want it to say the redirect is not followed", r.Error.Message)
	}
	if r.Status != http.StatusFound || len(r.Redirects) != 1 || len(r.Location) > maxRedirectURL+3 || len(r.FinalURL) > maxRedirectURL {
		t.Errorf("/long: status %d, %d redirects, Location %d bytes, final URL %d bytes; want the 302 as the final response and both capped",
			r.Status, len(r.Redirects), len(r.Location), len(r.FinalURL))
	}

	if r := get(c, ts.URL+"/edge"); r.Error != nil || r.Status != http.StatusOK || len(r.FinalURL) != maxRedirectURL {
		t.Errorf("/edge: %d %+v, final URL %d bytes; want a 200 at a URL of exactly %d bytes", r.Status, r.Error, len(r.FinalURL), maxRedirectURL)
	}
}

// TestRedirectQueryEscaped checks that a Location whose query holds a space,
// non-ASCII or other bytes a URL may not carry raw is percent-encoded, as
// browsers and curl do: sent raw, a space breaks the request line (Go's
// server answers 400) and the URLs in the result.
func TestRedirectQueryEscaped(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to" {
			w.Header().Set("Location", r.URL.Query().Get("loc"))
			w.WriteHeader(http.StatusFound)
			return
		}
		fmt.Fprintf(w, "<title>%s</title>", r.RequestURI) // what arrived
	})
	tests := []struct {
		name   string
		loc    string
		follow bool
		want   string // the final URL (or Location, not following) after the base
	}{
		{name: "space", loc: "/end?q=a b", follow: true, want: "/end?q=a%20b"},
		{name: "non-ascii", loc: "/end?q=\u00e9\u202e", follow: true, want: "/end?q=%C3%A9%E2%80%AE"},
		{name: "quotes and brackets", loc: `/end?q="<x>"&r={|}`, follow: true, want: "/end?q=%22%3Cx%3E%22&r=%7B%7C%7D"},
		{name: "escapes kept", loc: "/end?q=a%20b&r=%zz,'", follow: true, want: "/end?q=a%20b&r=%zz,'"},
		{name: "not followed", loc: "/end?q=a b", want: "/end?q=a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(o *Options) { o.Follow = tt.follow })
			r := get(c, ts.URL+"/to?loc="+url.QueryEscape(tt.loc))
			wantKind(t, r, "")
			if !tt.follow {
				if r.Location != ts.URL+tt.want {
					t.Errorf("location = %q, want %q", r.Location, ts.URL+tt.want)
				}
				return
			}
			if r.Status != http.StatusOK || r.FinalURL != ts.URL+tt.want || r.Title != tt.want {
				t.Errorf("got %d %q, server saw %q; want 200 %q, server seeing %q",
					r.Status, r.FinalURL, r.Title, ts.URL+tt.want, tt.want)
			}
		})
	}
}

// TestRedirectToBadPortOrEmptyHost: a redirect to a port out of range or
// to an empty host is invalid_url, with the 3xx as the final response, as
// such a line is on input; a port out of range was dialled, failed as
// "refused" and was retried. A target built by hand with such a URL is
// refused the same way.
func TestRedirectToBadPortOrEmptyHost(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Query().Get("loc"))
		w.WriteHeader(http.StatusFound)
	})
	c := newTestClient(t, nil)
	for _, tc := range []struct{ loc, msg string }{
		{"http://127.0.0.1:99999/", "port out of range"},
		{"http://127.0.0.1:65536/", "port out of range"},
		{"http://127.0.0.1:0/", "port out of range"},
		{"https://[::1]:100000/x", "port out of range"},
		{"http:///x", "empty host"},
		{"http://:8080/x", "empty host"},
	} {
		r := get(c, ts.URL+"/?loc="+url.QueryEscape(tc.loc))
		if kindOf(r) != KindInvalidURL || !strings.Contains(r.Error.Message, tc.msg) {
			t.Errorf("redirect to %s: error %+v, want invalid_url saying %q", tc.loc, r.Error, tc.msg)
		}
		if r.Status != http.StatusFound || len(r.Redirects) != 1 || r.Location != tc.loc {
			t.Errorf("redirect to %s: status %d after %d redirects, location %q; want the 302 as the final response", tc.loc, r.Status, len(r.Redirects), r.Location)
		}
	}
	for _, u := range []string{"http://127.0.0.1:99999/", "http://127.0.0.1:0/", "http://:8080/"} {
		if r := get(c, u); kindOf(r) != KindInvalidURL {
			t.Errorf("target %s: error %+v, want invalid_url", u, r.Error)
		}
	}
}

// HostKeyOf gives a hand-built target the HostKey input.Parse would: the
// engine schedules by it and dist routes by it, and the two must agree.
func TestHostKeyOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"http://A.Example/x", "a.example:80"},
		{"https://a.example/", "a.example:443"},
		{"https://a.example:8443/", "a.example:8443"},
		{"http://[::1]:81/", "[::1]:81"},
		{"http://[::1]/", "[::1]:80"},
		{"http://[0:0::1]/", "[::1]:80"},
		{"http://[::ffff:127.0.0.1]:81/", "127.0.0.1:81"}, // dialled as IPv4
		{"http://[::FFFF:7F00:1]/", "127.0.0.1:80"},
		{"https://[64:ff9b::102:304]/", "[64:ff9b::102:304]:443"}, // NAT64: not the same host
		{"http://name.example.:8080/", "name.example:8080"},
		{"https://Name.Example./", "name.example:443"},
		{"http://a.example:bad/", ""},
	} {
		if got := HostKeyOf(tc.url); got != tc.want {
			t.Errorf("HostKeyOf(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
