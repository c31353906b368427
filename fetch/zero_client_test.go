package fetch

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestZeroClient: a Client not made by NewClient has no transport and no
// options (a zero Timeout). Its Fetch must still return a result, one that
// says what is wrong rather than a nil-pointer message, without sending
// anything; its Close must not panic.
func TestZeroClient(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	var c Client
	r := c.Fetch(context.Background(), Target{Seq: 7, Input: "x", URL: ts.URL + "/", HostKey: "k"})
	if r.Error == nil || r.Error.Kind != KindOther || !strings.Contains(r.Error.Message, "NewClient") {
		t.Errorf("zero Client's Fetch: got error %v, want kind other naming NewClient", r.Error)
	}
	if r.Seq != 7 || r.Input != "x" || r.Attempts != 1 {
		t.Errorf("zero Client's result: got Seq %d Input %q Attempts %d, want 7 %q 1", r.Seq, r.Input, r.Attempts, "x")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("zero Client sent %d requests, want 0", n)
	}
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Close on a zero Client panicked: %v", p)
		}
	}()
	c.Close()
}

// TestNilClient: a nil *Client's Fetch said "internal error: runtime
// error: invalid memory address" (the nil dereference, recovered); it
// says what to do, as the zero Client's does, and Close does nothing.
func TestNilClient(t *testing.T) {
	t.Parallel()
	var c *Client
	r := c.Fetch(context.Background(), Target{Seq: 3, Input: "x", URL: "http://127.0.0.1:1/", HostKey: "127.0.0.1:1"})
	if r.Error == nil || r.Error.Kind != KindOther || !strings.Contains(r.Error.Message, "nil *Client") || !strings.Contains(r.Error.Message, "make one with fetch.NewClient") {
		t.Errorf("nil Client's Fetch: got error %v, want kind other: nil *Client ... make one with fetch.NewClient", r.Error)
	}
	if r.Seq != 3 || r.Input != "x" || r.Attempts != 1 {
		t.Errorf("nil Client's result: got Seq %d Input %q Attempts %d, want 3 %q 1", r.Seq, r.Input, r.Attempts, "x")
	}
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Close on a nil Client panicked: %v", p)
		}
	}()
	c.Close()
}
