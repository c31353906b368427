package fetch_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
)

// Fetch one URL that redirects once: the result has the final status, the
// title, the decoded size and the redirect hop, and no error.
func ExampleClient_Fetch() {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<title>  A new\n  home </title>")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := fetch.NewClient(fetch.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	r := c.Fetch(context.Background(), input.Parse(srv.URL+"/old"))
	fmt.Println("status:", r.Status, r.Proto, r.Method)
	fmt.Printf("title: %q\n", r.Title)
	fmt.Println("bytes:", r.Bytes, "truncated:", r.Truncated)
	fmt.Println("final:", strings.TrimPrefix(r.FinalURL, srv.URL))
	for _, h := range r.Redirects {
		fmt.Println("redirect:", strings.TrimPrefix(h.URL, srv.URL), h.Status)
	}
	fmt.Println("error:", r.Error)
	// Output:
	// status: 200 HTTP/1.1 GET
	// title: "A new home"
	// bytes: 30 truncated: false
	// final: /new
	// redirect: /old 301
	// error: <nil>
}

// A failed request is not a returned error: it is in the result, classified
// by kind. Here nothing listens on the port, and the second line is not an
// http(s) target at all.
func ExampleClient_Fetch_errors() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens there now

	c, err := fetch.NewClient(fetch.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for _, line := range []string{closed, "ftp://files.invalid/"} {
		r := c.Fetch(context.Background(), input.Parse(line))
		fmt.Println(r.Status, r.Error.Kind)
	}
	// Output:
	// 0 refused
	// 0 invalid_url
}

// One Client, a token per host: Options.Prepare sets each request's
// Authorization from its target's host, so that hosts with different
// tokens share one connection pool. A host with no token gets none.
func ExampleOptions_prepare() {
	srv := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "<title>%s saw %q</title>", name, r.Header.Get("Authorization"))
		}))
	}
	api, other := srv("api"), srv("other")
	defer api.Close()
	defer other.Close()
	tokens := map[string]string{fetch.HostKeyOf(api.URL): "Bearer t0ken"}

	o := fetch.DefaultOptions()
	o.Prepare = func(req *http.Request, t *fetch.Target) error {
		if tok, ok := tokens[t.HostKey]; ok {
			req.Header.Set("Authorization", tok)
		}
		return nil
	}
	c, err := fetch.NewClient(o)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for _, u := range []string{api.URL + "/", other.URL + "/"} {
		fmt.Println(c.Fetch(context.Background(), input.Parse(u)).Title)
	}
	// Output:
	// api saw "Bearer t0ken"
	// other saw ""
}
