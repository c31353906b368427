package report

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fanout/fanout/fetch"
)

// synth yields n made-up results over the given number of hosts, with a
// heavy-tailed latency, a realistic mix of statuses and errors, and a few
// hostile strings. It reuses one Result, as a database reader might, so a
// test using it also checks that nothing keeps a pointer to a result.
func synth(n, hosts int, seed uint64) iter.Seq2[*fetch.Result, error] {
	return func(yield func(*fetch.Result, error) bool) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		start := time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC)
		r := new(fetch.Result)
		for i := range n {
			// Zipf-like host choice: a few busy hosts, a long tail.
			h := int(float64(hosts) * math.Pow(rng.Float64(), 3))
			host := fmt.Sprintf("site%d.example", h)
			if h%97 == 13 {
				host = fmt.Sprintf("shop%d.example:8443", h)
			}
			url := fmt.Sprintf("https://%s/page/%d", host, i)
			if i%50_000 == 7 {
				url = "https://" + host + "/<script>alert(1)</script>?q=\x1b[31mred"
			}
			ms := math.Exp(rng.NormFloat64()*0.8 + math.Log(60)) // median ~60ms
			if rng.IntN(200) == 0 {
				ms += 2000 + rng.Float64()*8000 // slow tail
			}
			dns, conn, tls := 0.0, 0.0, 0.0
			if rng.IntN(4) == 0 { // a new connection a quarter of the time
				dns, conn, tls = ms*0.08, ms*0.12, ms*0.2
			}
			ttfb := (ms - dns - conn - tls) * 0.7
			*r = fetch.Result{
				Seq: uint64(i), Input: url, URL: url, FinalURL: url, Status: 200, Proto: "HTTP/2.0",
				Method: "GET", ContentType: "text/html", Bytes: int64(2000 + rng.IntN(60000)),
				Title: fmt.Sprintf("Page %d", i), Attempts: 1, StartedAt: start.Add(time.Duration(i) * 50 * time.Microsecond),
				Timing: fetch.Timing{DNS: dns, Connect: conn, TLS: tls, TTFB: ttfb, Transfer: ms - dns - conn - tls - ttfb, Total: ms},
			}
			if i%50_000 == 7 {
				r.Title = "<script>alert(1)</script>\x1b]0;pwned\x07 \u202egnp.exe"
			}
			switch x := rng.IntN(1000); {
			case x < 60:
				r.Status = 301
				r.Redirects = []fetch.Hop{{URL: url, Status: 301}}
				r.FinalURL = url + "/"
			case x < 110:
				r.Status = 404
			case x < 125:
				r.Status = 503
			case x < 140:
				r.Status, r.Bytes, r.Timing = 0, 0, fetch.Timing{DNS: dns, Total: dns + 1}
				r.Error = &fetch.Error{Kind: fetch.KindDNS, Message: "lookup " + host + ": no such host"}
			case x == 140 && rng.IntN(2) == 0: // 0.05% time out
				r.Status, r.Bytes = 0, 0
				r.Error = &fetch.Error{Kind: fetch.KindTimeout, Message: "no response headers within 10s"}
				r.Timing = fetch.Timing{DNS: dns, Connect: conn, TLS: tls, Total: 10000}
			case x < 156:
				r.Status, r.Bytes = 0, 0
				r.Timing = fetch.Timing{DNS: dns, Total: dns + conn + 0.3}
				r.Error = &fetch.Error{Kind: fetch.KindRefused, Message: "connect: connection refused"}
			case x < 160:
				r.Status, r.Bytes = 0, 0
				r.Timing = fetch.Timing{DNS: dns, Connect: conn, TLS: tls + 2, Total: dns + conn + tls + 2}
				r.Error = &fetch.Error{Kind: fetch.KindTLS, Message: "x509: certificate has expired"}
			case x < 163:
				r.Error = &fetch.Error{Kind: fetch.KindReset, Message: "read: connection reset by peer"}
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}
