// Package simweb is a simulated slice of the web for fanout's tests, its
// offline demo and its benchmarks: one process serving any number of
// virtual hosts on loopback listeners.
//
// # Serving
//
// Start opens Config.Ports plain and Config.TLSPorts HTTPS listeners on a
// loopback address (anything else is refused), with keep-alive on and no
// per-request logging. The server closes itself after Config.MaxLifetime
// (default 10 minutes) or on Close. Requests are routed by path; the Host
// header only names the site (counters, profiles, determinism), so a
// client points thousands of names such as h17.sim at the server with
// curl-style --resolve entries (Server.ResolveArgs) or a custom dialer
// (Server.DialContext, Server.Client).
//
// TLS listeners speak HTTP/1.1 with certificates made in memory (ECDSA
// P-256): a throw-away CA made at start (Server.CertPool, Server.CAPEM)
// signs, on first use, a leaf for each SNI name (h17.sim), and a default
// leaf for clients that send no SNI (localhost, 127.0.0.1, ::1). The SNI
// name picks a variant: a first label starting with "expired"
// (expired.sim, expired3.sim) gets an expired leaf, one starting with
// "wronghost" a leaf for wrong.invalid. A client that does not trust the
// CA sees an unknown authority.
//
// # Path language
//
// Unknown query parameters are ignored, so workloads add ?n=I to make URLs
// distinct. Durations are Go durations ("250ms", "2s") or bare
// milliseconds; sizes are bytes or units (10KiB, 1MiB, 1GiB, 1MB).
//
//	/, /ok, /ok/...        200, a 1 KiB HTML page titled OKTitle
//	/status/N              status N (200..999); ?retry_after=V sets Retry-After
//	                       verbatim; 3xx get Location /ok or ?location=
//	/delay/D               wait D, then the OK page
//	/latency/lognormal     wait median*exp(sigma*Z) (?median=50ms&sigma=1&max=20s)
//	/latency/uniform       wait in [min, max) (?min=0&max=100ms)
//	/latency/pareto        wait Pareto(min, alpha) (?min=10ms&alpha=1.5&max=20s)
//	/redirect/N            redirect to /redirect/N-1 keeping the query; /redirect/0
//	                       is the OK page, so N hops then 200. ?code=301|302|303|307|308
//	                       (default 302), ?abs=1 for absolute Locations
//	/redirect-loop         redirect to itself forever
//	/redirect-to?u=URL     redirect to URL verbatim (?code= as above)
//	/title/CHARSET         a page whose title is Titles[CHARSET] encoded in CHARSET
//	                       (utf-8, windows-1252, iso-8859-1, shift_jis), declared in
//	                       the header and a meta tag; ?declare=header|meta|none
//	/title/escape          title EscapeTitle (ESC [31m, BEL, CR) raw, and <script>s
//	/title/long, /title/none, /title/empty
//	/size/S                exactly S bytes of text (?chunked=1: no Content-Length)
//	/gzip-bomb?size=S      Content-Encoding gzip inflating to S zero bytes (default
//	                       1GiB; about 1 KB sent per MiB, from one cached segment)
//	/encoding/E            the OK page as gzip, deflate, br or zstd; corrupt-gzip
//	                       (breaks mid-stream), lying (says gzip, is plain), unknown
//	                       (Content-Encoding x-simweb)
//	/mix                   a status from hash(seed, host, path, query): 200 80%,
//	                       301 3%, 302 4%, 404 6%, 410 1%, 500 3%, 503 3%
//	/page/...              the host's Profile: latency, errors, politeness
//	/flaky/N               503 for the first N requests of this host+URL, then 200
//	/echo                  the request (method, URI, headers, body size) as text
//	/robots.txt            disallows /private/
//	/fault/reset           RST without a reply (SO_LINGER 0 after hijack)
//	/fault/close           FIN without a reply
//	/fault/silence         never answers; ends when the client leaves or on Close
//	/fault/trickle         headers, then one byte per ?every=1s, ?n=60 bytes
//	/fault/silence-body    headers and 512 of 4096 promised bytes, then silence
//	/fault/endless         an endless fast body
//	/fault/malformed       "HTTP/1.1 abc\r\n\r\n"
//	/fault/bad-header      a header line with a space and a control byte in its name
//	/fault/short-body      promises 2048 bytes, sends 1024, closes
//	/fault/reset-mid-body  headers and 8 KiB of 64 KiB, then RST
//	/fault/slow-headers    a whole response one byte per ?every=1s
//
// # Determinism
//
// Latencies and statuses are deterministic from the seed, the host and
// the URL (path and query) only, not from request order: the same URL
// always waits the same time and gets the same status, and distinct URLs
// (different ?n=) sample the distribution. The exceptions are /flaky,
// which counts, and politeness, which depends on the client's timing.
//
// # Politeness
//
// A request is refused with 429 and Retry-After: 1 when its host already
// serves Limit.Concurrent admitted requests, or has received
// Limit.PerSecond requests in the current second. The limit comes from
// Config.HostLimits, from the host's Profile (for /page paths) and from
// ?polite=K and ?rps=R on any path. Whatever the limit, the server counts
// per host (name without port): Requests, TooMany, and MaxConcurrent, the
// most requests it handled at once, refused ones included.
//
// # Workloads
//
// Workload yields reproducible URL lists ("demo", "ok", "delay100",
// "manyhosts", "mixed", "hold") over host names under .sim, spreading
// hosts across the given ports by a hash of the name.
package simweb
