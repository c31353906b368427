package fetch

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMatcherSeams: a string is found wherever the reads cut it, with
// reads of every size, while the matcher keeps no more than the longest
// string's length less one byte of the body between reads.
func TestMatcherSeams(t *testing.T) {
	t.Parallel()
	body := []byte(`xx{"status":"UP","db":"ok"}yy`)
	whole := string(body)
	for _, tc := range []struct {
		match []string
		want  string // the first string missing, "" for none
	}{
		{[]string{`"status":"UP"`}, ""},
		{[]string{`"status":"UP"`, `"db":"ok"`}, ""},
		{[]string{`"db":"ok"`, `"status":"DOWN"`}, `"status":"DOWN"`},
		{[]string{"y"}, ""},
		{[]string{whole}, ""},
		{[]string{whole + "!"}, whole + "!"},
	} {
		for size := 1; size <= len(body); size++ {
			m := newMatchSet(tc.match).matcher()
			for i := 0; i < len(body); i += size {
				m.write(body[i:min(i+size, len(body))])
				if len(m.tail) > m.keep {
					t.Fatalf("%q in reads of %d: keeps %d bytes, want at most %d", tc.match, size, len(m.tail), m.keep)
				}
			}
			err := m.missing(false, int64(len(body)))
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != "body lacks "+shownMatch(tc.want)) {
				t.Errorf("%q in reads of %d: %v, want %q missing", tc.match, size, err, tc.want)
			}
		}
	}
}

// TestMatchOverHTTP: --match searches the decoded body of a response
// within MatchStatus as it streams in, and a body that lacks a string is
// a mismatch that keeps its status; a response outside MatchStatus (a 404
// page) is left as it is, and an error of its own is not hidden.
func TestMatchOverHTTP(t *testing.T) {
	t.Parallel()
	up := `{"status":"UP"}`
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			w.Write([]byte(up))
		case "/down":
			w.Write([]byte(`{"status":"DOWN"}`))
		case "/split":
			// Two reads, the string cut between them.
			w.Write([]byte(`{"stat`))
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
			w.Write([]byte(`us":"UP"}`))
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			// Long enough to be compressed, not stored: the string is
			// not in the bytes on the wire.
			w.Write(encode(t, "gzip", []byte(strings.Repeat(up+"\n", 20))))
		case "/long":
			w.Write(append(bytes.Repeat([]byte("x"), 5000), up...))
		case "/404":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("no such page"))
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			// Not a redirect to follow: the response itself, bodiless.
			w.WriteHeader(http.StatusNotModified)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	})
	c := newTestClient(t, func(o *Options) {
		o.Match = []string{`"status":"UP"`}
		o.MatchStatus = func(s int) bool { return s >= 200 && s <= 399 }
		o.MaxBody = 4096
	})
	for _, tc := range []struct {
		path    string
		status  int
		kind    ErrorKind
		message string
	}{
		{"/up", 200, "", ""},
		{"/split", 200, "", ""},
		{"/gzip", 200, "", ""},
		{"/down", 200, KindMismatch, `body lacks "status":"UP"`},
		{"/long", 200, KindMismatch, `body lacks "status":"UP" (in the first 4.1KB read: raise --max-body)`},
		{"/404", 404, "", ""},
		{"/204", 204, KindMismatch, `body lacks "status":"UP"`},
		{"/304", 304, KindMismatch, `body lacks "status":"UP"`},
		{"/loop", 302, KindTooManyRedirects, "redirect loop"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			r := get(c, ts.URL+tc.path)
			wantKind(t, r, tc.kind)
			if r.Status != tc.status {
				t.Errorf("status %d, want %d", r.Status, tc.status)
			}
			if tc.kind != "" && !strings.HasPrefix(r.Error.Message, tc.message) ||
				tc.kind == KindMismatch && r.Error.Message != tc.message {
				t.Errorf("message %q, want %q", r.Error.Message, tc.message)
			}
		})
	}
}

// TestMatchRefusedWithHead: a HEAD response has no body to search, and an
// empty string is in every body: either is a mistake, told before a run.
func TestMatchRefusedWithHead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		match  []string
		want   string // "" for no error
	}{
		{"HEAD", []string{"UP"}, "Match is for a body, and a HEAD request gets none"},
		{"head", []string{"UP"}, "Match is for a body, and a HEAD request gets none"},
		{"GET", []string{"UP", ""}, "Match has an empty string"},
		{"HEAD", nil, ""},
		{"", []string{"UP"}, ""},
	} {
		o := testOptions()
		o.Method, o.Match = tc.method, tc.match
		err := o.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("-X %s --match %q: %v, want %q", tc.method, tc.match, err, tc.want)
		}
	}
}
