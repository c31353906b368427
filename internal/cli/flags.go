package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/humantime"
	"github.com/fanout/fanout/output"
)

// flags holds the raw command-line values before they become a Config.
type flags struct {
	inputs   []string
	noDedupe bool

	concurrency int
	perHost     int
	rate        float64
	hostRate    float64
	window      int

	retries       int
	maxRetryWait  time.Duration
	maxHostErrors int
	timeout       time.Duration
	connTimeout   time.Duration

	method       string
	headers      []string
	data         string
	userAgent    string
	proxy        string
	insecure     bool
	caCert       string
	cert, key    string
	resolve      []string
	http11       bool
	maxRedirects int
	noFollow     bool
	maxBody      string
	noFallback   bool
	save         string   // --save DIR: keep each body there, named by its SHA-256
	respHeaders  bool     // --response-headers: each result carries its final response's headers
	match        []string // --match: strings the body of a response within --accept must contain

	format   string
	output   string
	ordered  bool
	failed   bool // --failed: write only the results not accepted
	accepted bool // --accepted: write only the results accepted (--failed's inverse)
	color    string
	quiet    bool
	// summaryJSON is --summary-json's file, "" for none.
	summaryJSON string
	accept      string

	cpuProfile string

	db       string // --db FILE: record the run (and resume it) in SQLite
	newRun   bool   // --new-run: do not continue an unfinished run in --db
	resumeID int64  // set by `fanout resume RUN`
	set      *pflag.FlagSet
}

func (f *flags) register(fs *pflag.FlagSet) {
	d := engine.DefaultConfig()
	fs.StringArrayVarP(&f.inputs, "input", "i", nil, "read targets from `FILE`, one per line (repeatable; - for stdin)")
	fs.BoolVar(&f.noDedupe, "no-dedupe", false, "fetch duplicate targets again instead of skipping them")

	fs.IntVarP(&f.concurrency, "concurrency", "c", d.Limits.Concurrency, "requests in flight in total")
	fs.IntVar(&f.perHost, "per-host", d.Limits.PerHost, "requests in flight per host:port (halved for the host each time it answers 429)")
	fs.Float64Var(&f.rate, "rate", 0, "attempts per second overall; a target's redirects are followed within its attempt (0 = unlimited)")
	fs.Float64Var(&f.hostRate, "host-rate", 0, "attempts per second per host:port, as --rate (0 = unlimited)")
	fs.IntVar(&f.window, "window", 0, "targets read ahead of those finished (0 = max(10000, 16 × concurrency))")

	fs.IntVar(&f.retries, "retries", d.Retry.Max, "retries on connect errors, timeouts, resets, a lack of local resources (local), DNS lookups that timed out, 429, 502, 503, 504 (POST and other non-idempotent methods: connect errors, 429, 503, and no redirect followed)")
	durationVar(fs, &f.maxRetryWait, "max-retry-wait", d.Retry.MaxWait, "longest Retry-After to wait for; a longer one is not retried, and its host's other targets are skipped as long")
	fs.IntVar(&f.maxHostErrors, "max-host-errors", d.Limits.MaxHostErrors, "after N attempts in a row fail at a host (no connection, a timeout or reset before any reply, a body past --timeout, a DNS timeout, 429, 503 with Retry-After), or 3 over N × 2s, skip its targets for "+humantime.Duration(engine.DefaultSkipFor)+" (0 = never)")
	durationVar(fs, &f.timeout, "timeout", d.Request.Timeout, "per attempt, the whole exchange including redirects and body")
	durationVar(fs, &f.connTimeout, "connect-timeout", d.Request.ConnectTimeout, "per connection: name lookup plus TCP connect, and the TLS handshake")

	fs.StringVarP(&f.method, "method", "X", "", "HTTP method (default GET, or POST with -d)")
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "extra request header `\"Name: value\"` (repeatable; \"Name:\" with no value removes a default one)")
	fs.StringVarP(&f.data, "data", "d", "", "request body; @FILE reads it from a file")
	fs.StringVarP(&f.userAgent, "user-agent", "A", "", "User-Agent header (default \"fanout/"+fetch.Version+"\"; -A '' sends none)")
	fs.StringVarP(&f.proxy, "proxy", "x", "", "proxy URL: http://, https:// or socks5:// (default: the *_PROXY variables)")
	fs.BoolVarP(&f.insecure, "insecure", "k", false, "do not verify TLS certificates")
	fs.StringVar(&f.caCert, "cacert", "", "trust the certificate authorities in the PEM `FILE` instead of the system's (a private CA)")
	fs.StringVarP(&f.cert, "cert", "E", "", "present the client certificate in the PEM `FILE` to servers that ask for one (mutual TLS)")
	fs.StringVar(&f.key, "key", "", "the private key of --cert, a PEM `FILE` (default: in the --cert file)")
	fs.StringArrayVar(&f.resolve, "resolve", nil, "resolve `HOST:PORT:ADDR[,ADDR]` without DNS (repeatable; * as HOST for any)")
	fs.BoolVar(&f.http11, "http1.1", false, "use HTTP/1.1 only (no HTTP/2)")
	fs.IntVar(&f.maxRedirects, "max-redirects", d.Request.MaxRedirects, "redirects to follow at most")
	fs.BoolVar(&f.noFollow, "no-follow", false, "do not follow redirects: the first 3xx is the result")
	fs.StringVar(&f.maxBody, "max-body", "1MiB", "body bytes to read at most, after decoding (e.g. 4096, 64KiB, 1MiB)")
	fs.BoolVar(&f.noFallback, "no-fallback", false, "for targets without a scheme, try https only (no http fallback)")
	fs.BoolVar(&f.respHeaders, "response-headers", false, "add each final response's headers to its result: \"headers\" in jsonl and --db (at most 32 KiB of them; not in csv or text)")
	fs.StringVar(&f.save, "save", "", "save each body read (decoded, up to --max-body) in `DIR`, named by its SHA-256: DIR/ab/abcdef... (made if missing)")
	fs.StringArrayVar(&f.match, "match", nil, "the body of a response with a status within --accept must contain `STRING` (repeatable: each; exact bytes, decoded, within --max-body), else error kind mismatch")

	fs.StringVarP(&f.format, "format", "f", "text", "output format: "+strings.Join(output.Formats, ", ")+" (url: each result's URL as fetched, one a line, nothing else)")
	fs.StringVarP(&f.output, "output", "o", "", "write results to `FILE` instead of stdout")
	fs.BoolVar(&f.ordered, "ordered", false, "write results in input order (bounded reorder buffer)")
	fs.BoolVar(&f.failed, "failed", false, "write only the results not accepted (an error, or a status outside --accept); the summary and exit status count them all")
	fs.BoolVar(&f.accepted, "accepted", false, "write only the results accepted (no error, a status within --accept), e.g. live URLs for the next tool with -f url; the summary and exit status count them all")
	fs.StringVar(&f.color, "color", "auto", "colour the text format: auto, always or never (NO_COLOR is honoured)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar and no summary")
	fs.StringVar(&f.summaryJSON, "summary-json", "", "also write the summary as JSON to `FILE` at the end (with -q too), for CI")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to `FILE` (for performance work)")
	fs.MarkHidden("cpuprofile")
	fs.StringVar(&f.accept, "accept", "200..=399", "statuses that count as success, e.g. 200..=299,304 (.. excludes the end, ..= includes it)")
	fs.StringVar(&f.db, "db", "", "record the run in the SQLite database `FILE`; an unfinished run with the same inputs is resumed")
	fs.BoolVar(&f.newRun, "new-run", false, "with --db, start a new run even if an unfinished one has the same inputs")
	f.set = fs
}

// config turns the flags into an engine Config and the accept rule. Every
// problem is reported, each naming its flag.
func (f *flags) config() (engine.Config, output.Accept, []error) {
	var errs []error
	if f.summaryJSON != "" {
		// Now, not after a long run: a typo in the path would lose it.
		if st, err := os.Stat(filepath.Dir(f.summaryJSON)); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--summary-json %s: its directory does not exist", f.summaryJSON))
		}
		kept := append(dbFiles(f.db), keptFile{"the -o file", f.output})
		for _, name := range f.inputs {
			kept = append(kept, keptFile{"the -i file " + name, name})
		}
		if err := checkWrite("--summary-json", f.summaryJSON, kept...); err != nil {
			errs = append(errs, err)
		}
	}
	c := engine.DefaultConfig()
	c.Limits = engine.Limits{
		Concurrency: f.concurrency, PerHost: f.perHost,
		Rate: f.rate, HostRate: f.hostRate, Window: f.window, MaxHostErrors: f.maxHostErrors,
	}
	c.Retry.Max, c.Retry.MaxWait = f.retries, f.maxRetryWait

	r := &c.Request
	r.Timeout, r.ConnectTimeout = f.timeout, f.connTimeout
	r.Method = strings.ToUpper(f.method)
	r.Proxy, r.Insecure, r.HTTP1 = f.proxy, f.insecure, f.http11
	r.MaxRedirects, r.Follow, r.NoFallback = f.maxRedirects, !f.noFollow, f.noFallback
	r.SaveDir, r.ResponseHeaders = f.save, f.respHeaders
	if f.userAgent != "" || f.set != nil && f.set.Changed("user-agent") {
		r.UserAgent = f.userAgent // -A '' sends none, as in curl
	}
	if len(f.headers) > 0 {
		r.Header = http.Header{}
		for _, h := range f.headers {
			name, value, ok := strings.Cut(h, ":")
			name = strings.TrimSpace(name)
			if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
				errs = append(errs, fmt.Errorf("--header %q: want \"Name: value\"", h))
				continue
			}
			r.Header.Add(name, strings.TrimSpace(value))
		}
	}
	// -d '' is an empty POST, as in curl: whether the flag was given counts,
	// not its value.
	if f.data != "" || f.set != nil && f.set.Changed("data") {
		if name, ok := strings.CutPrefix(f.data, "@"); ok {
			var b []byte
			var err error
			if name == "-" {
				// stdin is where targets come from when no other input is given
				err = errors.New("the body cannot come from stdin; write it to a file and give -d @FILE")
			} else {
				b, err = os.ReadFile(name)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("--data @%s: %v", name, unwrapPath(err)))
			}
			r.Body = b
			if r.Body == nil {
				r.Body = []byte{}
			}
		} else {
			r.Body = append([]byte{}, f.data...)
		}
	}
	if f.caCert != "" {
		pem, err := os.ReadFile(f.caCert)
		if err != nil {
			errs = append(errs, fmt.Errorf("--cacert %s: %v", f.caCert, unwrapPath(err)))
		} else if r.RootCAs = x509.NewCertPool(); !r.RootCAs.AppendCertsFromPEM(pem) {
			errs = append(errs, fmt.Errorf("--cacert %s: no PEM certificate in it (want -----BEGIN CERTIFICATE-----)", f.caCert))
		}
	}
	switch {
	case f.key != "" && f.cert == "":
		errs = append(errs, fmt.Errorf("--key %s: give the certificate too, with --cert FILE", f.key))
	case f.cert != "":
		if cert, err := loadClientCert(f.cert, f.key); err != nil {
			errs = append(errs, err)
		} else {
			r.ClientCert = &cert
		}
	}
	for _, s := range f.resolve {
		e, err := fetch.ParseResolve(s)
		if err != nil {
			errs = append(errs, err) // it names --resolve and the value
			continue
		}
		r.Resolve = append(r.Resolve, e)
	}
	if n, err := parseSize(f.maxBody); err != nil {
		errs = append(errs, fmt.Errorf("--max-body %q: %v", f.maxBody, err))
	} else {
		r.MaxBody = n
	}
	acc, accErr := output.ParseAccept(f.accept)
	if len(f.match) > 0 {
		// Only a response within --accept is searched: a 404 page lacks
		// the string too, and stays a plain 404.
		r.Match, r.MatchStatus = f.match, acc.Status
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, flagErrors(err))
	}
	if accErr != nil {
		errs = append(errs, accErr)
	}
	if name, err := output.ParseFormat(f.format); err != nil {
		errs = append(errs, fmt.Errorf("--format: %w", err))
	} else {
		f.format = name // one spelling for the run's record, which a resume compares
	}
	if err := checkVerdictFlags(f.failed, f.accepted); err != nil {
		errs = append(errs, err)
	}
	if err := checkColor(f.color); err != nil {
		errs = append(errs, err)
	}
	if f.newRun && f.db == "" {
		errs = append(errs, errors.New("--new-run: give --db too (it starts a new run in the database rather than continuing an unfinished one)"))
	}
	return c, acc, errs
}

// parseSize reads a byte count with an optional unit: 4096, 64KiB, 1MiB,
// 1MB, 2GiB (KB and MB are powers of ten, KiB and MiB of two).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("not a size; use bytes or a unit like 64KiB or 1MiB")
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"K": 1 << 10, "KB": 1e3, "KIB": 1 << 10,
		"M": 1 << 20, "MB": 1e6, "MIB": 1 << 20,
		"G": 1 << 30, "GB": 1e9, "GIB": 1 << 30,
		"T": 1 << 40, "TB": 1e12, "TIB": 1 << 40, // the limit says "1 TiB": the unit must be known
	}[strings.ToUpper(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q; use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB", unit)
	}
	n := v * mult
	if n < 1 || n > 1<<40 {
		return 0, fmt.Errorf("must be between 1 byte and 1 TiB")
	}
	return int64(n), nil
}

// unwrapPath drops the *PathError's operation and path, which the caller's
// message already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// loadClientCert reads --cert and --key (the key may be in the certificate's
// file, as curl allows) and says which file is wrong.
func loadClientCert(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--cert %s: %v", certFile, unwrapPath(err))
	}
	keyPEM, keyFlag := certPEM, "--cert "+certFile
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("--key %s: %v", keyFile, unwrapPath(err))
		}
		keyFlag = "--key " + keyFile
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		what := strings.TrimPrefix(err.Error(), "tls: ")
		noKey := strings.Contains(what, "key input") || strings.Contains(what, "rather than a key")
		switch {
		case strings.Contains(what, "certificate input"):
			return cert, fmt.Errorf("--cert %s: no PEM certificate in it (want -----BEGIN CERTIFICATE-----)", certFile)
		case noKey && keyFile == "":
			return cert, fmt.Errorf("--cert %s: no private key in it: give it with --key FILE", certFile)
		case noKey:
			return cert, fmt.Errorf("%s: no PEM private key in it (want -----BEGIN ... PRIVATE KEY-----; encrypted keys are not supported)", keyFlag)
		case encryptedKey(keyPEM):
			return cert, fmt.Errorf("%s: the private key is encrypted, which is not supported (openssl pkey -in FILE -out PLAIN writes it decrypted)", keyFlag)
		case keyFile == "":
			return cert, fmt.Errorf("--cert %s: %s", certFile, what) // cert and key both from it
		}
		return cert, fmt.Errorf("--cert %s, %s: %s", certFile, keyFlag, what)
	}
	return cert, nil
}

// encryptedKey reports whether the first private key in keyPEM is
// encrypted (PKCS #8 "ENCRYPTED PRIVATE KEY", or a legacy PEM block with
// "Proc-Type: 4,ENCRYPTED"), which tls.X509KeyPair only calls unparsable.
func encryptedKey(keyPEM []byte) bool {
	for {
		var b *pem.Block
		if b, keyPEM = pem.Decode(keyPEM); b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED")
		}
	}
}
