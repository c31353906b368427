package dist

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// Embedded is the --nats value that means: use the NATS server on
// Options.Listen, starting one in this process when none answers there.
const Embedded = "embedded"

// EmbeddedAddr is where the embedded server listens by default.
const EmbeddedAddr = "127.0.0.1:4222"

// Options say how to reach NATS. The secrets (Token, the credentials and
// key files' contents) are never printed; Redact shows a URL safely.
type Options struct {
	// URL is a comma-separated list of nats:// or tls:// URLs, or Embedded.
	URL string
	// Creds is a NATS credentials file (JWT and nkey seed).
	Creds string
	// Token is an authentication token.
	Token string
	// TLSCA, TLSCert and TLSKey are PEM files: the CA that signed the
	// servers' certificates, and this client's certificate and key.
	TLSCA, TLSCert, TLSKey string
	// Name names the connection in the server's monitoring.
	Name string
	// StoreDir is the embedded server's JetStream directory; empty means
	// DefaultStoreDir().
	StoreDir string
	// Listen is the embedded server's HOST:PORT; empty means EmbeddedAddr.
	Listen string
	// Log receives the connection's asynchronous errors (a permission the
	// server refused, a slow consumer), one line each; nil discards them.
	Log io.Writer
}

// Conn is a connection to NATS with JetStream, and the embedded server when
// this process runs it.
type Conn struct {
	// NC is the NATS connection; Close closes it.
	NC *nats.Conn
	// JS is the JetStream context over NC, for the functions of this
	// package that take one (Runs, LoadMeta, DeleteRun).
	JS  jetstream.JetStream
	srv *server.Server
}

// Embedded reports whether this process runs the NATS server.
func (c *Conn) Embedded() bool { return c.srv != nil }

// Server returns the URL of the server connected to, without user
// information, for logs.
func (c *Conn) Server() string { return Redact(c.NC.ConnectedUrl()) }

// Close closes the connection, and stops the embedded server, if any,
// after the connection's buffered messages are flushed.
func (c *Conn) Close() {
	c.NC.Drain()
	for i := 0; i < 100 && !c.NC.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	c.NC.Close()
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
}

// DefaultStoreDir is where the embedded server keeps its streams:
// $XDG_STATE_HOME/fanout/nats, or ~/.local/state/fanout/nats.
func DefaultStoreDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fanout", "nats")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "fanout", "nats")
	}
	return filepath.Join(os.TempDir(), "fanout-nats")
}

// Connect connects to NATS as o says. With o.URL Embedded, it connects to
// o.Listen, starting a server there in this process (JetStream, file
// storage in o.StoreDir) when nothing answers. When another process is
// starting a server on the same store, it waits for that one instead.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	opts, err := o.natsOptions()
	if err != nil {
		return nil, err
	}
	if o.URL == Embedded {
		return connectEmbedded(ctx, o, opts)
	}
	if o.URL == "" {
		return nil, errors.New("--nats: give a NATS URL or \"embedded\"")
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, connectError(o.URL, o, err)
	}
	return newConn(nc, nil)
}

// embeddedWait bounds how long a command waits for the embedded server
// that another process is starting on the same store.
const embeddedWait = 30 * time.Second

func connectEmbedded(ctx context.Context, o Options, opts []nats.Option) (*Conn, error) {
	addr := o.Listen
	if addr == "" {
		addr = EmbeddedAddr
	}
	u := "nats://" + addr
	nc, err := nats.Connect(u, opts...)
	if err == nil {
		return newConn(nc, nil)
	}
	if !noServerYet(err) {
		// A server answered and refused us: starting another cannot help.
		return nil, connectError(u, o, err)
	}
	dir := o.StoreDir
	if dir == "" {
		dir = DefaultStoreDir()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: want HOST:PORT", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: want HOST:PORT", addr)
	}
	srv, err := StartServer(ServerConfig{Host: host, Port: p, StoreDir: dir})
	if errors.Is(err, ErrStoreInUse) {
		return waitEmbedded(ctx, u, dir, o, opts)
	}
	if err != nil {
		// Another process may have started one meanwhile on another store.
		if nc, err2 := nats.Connect(u, opts...); err2 == nil {
			return newConn(nc, nil)
		}
		return nil, fmt.Errorf("--nats embedded: %w", err)
	}
	nc, err = nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, connectError(srv.ClientURL(), o, err)
	}
	return newConn(nc, srv)
}

// noServerYet reports whether err, from connecting to the embedded
// server's address, means that no server answers there yet: nothing
// listens, or the connection was reset or closed before the server spoke.
// The process starting the server checks the port by listening on it for
// a moment first, and a connection that lands on that check is reset.
func noServerYet(err error) bool {
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF)
}

// waitEmbedded connects to the server that the process holding the store
// dir is starting.
func waitEmbedded(ctx context.Context, u, dir string, o Options, opts []nats.Option) (*Conn, error) {
	deadline := time.Now().Add(embeddedWait)
	for {
		nc, err := nats.Connect(u, opts...)
		if err == nil {
			return newConn(nc, nil)
		}
		if !noServerYet(err) {
			return nil, connectError(u, o, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("--nats embedded: another process uses the store %s but no server answers on %s after %v: "+
				"give that server's URL with --nats, or another --nats-store", dir, u, embeddedWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// connectError says what to do about a failed connection: it names the
// flags that supply what the server refused, and never a secret.
func connectError(u string, o Options, err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		opErr     *net.OpError
		hint      string
	)
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired):
		hint = authHint(u, o)
	case errors.As(err, &unknownCA):
		if o.TLSCA == "" {
			hint = "the server's certificate is signed by a CA this system does not trust: give that CA's certificate with --tls-ca FILE"
		} else {
			hint = fmt.Sprintf("the server's certificate is not signed by the CA in --tls-ca %s: give the CA that signed it", o.TLSCA)
		}
	case errors.As(err, &hostname):
		hint = "the server's certificate is not issued for the host in the URL: connect with a name or address it lists"
	case errors.As(err, &invalid):
		hint = "the server's certificate is not valid now or not for a server: renew it"
	case errors.As(err, &opErr) && opErr.Op == "remote error", errors.Is(err, nats.ErrTLS) && closedByPeer(err):
		// A TLS alert from the server during the handshake, or (TLS 1.3,
		// where the client's handshake ends first) the server hanging up
		// right after it: with verify: true, a missing or unknown client
		// certificate.
		if o.TLSCert == "" {
			hint = "the server ended the TLS handshake, it wants a client certificate: give --tls-cert FILE and --tls-key FILE"
		} else {
			hint = fmt.Sprintf("the server ended the TLS handshake and refused the client certificate in --tls-cert %s: give one signed by a CA the server trusts", o.TLSCert)
		}
	case errors.Is(err, nats.ErrSecureConnWanted):
		hint = "the server does not offer TLS: drop --tls-ca, --tls-cert and --tls-key, or use its TLS port"
	case errors.Is(err, nats.ErrNoServers):
		hint = "nothing answers there: start the server (fanout nats runs one) or correct --nats"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// The URL parser's error quotes the URL, user information and
		// all (and an escape error the characters after the %).
		return fmt.Errorf("--nats %s: a URL does not parse (%s): write it as nats://[USER:PASSWORD@]HOST:PORT, "+
			"with any %% or other special character in the user or password percent-encoded", Redact(u), urlProblem(urlErr.Err))
	}
	if hint == "" {
		return fmt.Errorf("--nats %s: %w", Redact(u), err)
	}
	return fmt.Errorf("--nats %s: %s (%w)", Redact(u), hint, err)
}

func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func authHint(u string, o Options) string {
	switch {
	case o.Creds != "":
		return fmt.Sprintf("the server refused the user in the credentials file %s (--creds or $FANOUT_NATS_CREDS): "+
			"it must belong to an account the server trusts and be neither expired nor revoked", o.Creds)
	case o.Token != "":
		return "the server refused the token (--token or $FANOUT_NATS_TOKEN): check it"
	case hasUserinfo(u):
		return "the server refused the user and password, or the token, in the URL: check them"
	}
	return "the server wants to know who connects: give --creds FILE, a token in $FANOUT_NATS_TOKEN, " +
		"or user:password@ in the URL"
}

// urlProblem says what is wrong with a URL without quoting any of it.
func urlProblem(err error) string {
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return "invalid % escape"
	}
	var host url.InvalidHostError
	if errors.As(err, &host) {
		return "invalid character in the host"
	}
	return "invalid URL"
}

// parseURL parses one URL of a --nats list as the NATS client does: one
// without a scheme is taken for nats://, so "user:password@host:4222" is
// user information, not a scheme "user".
func parseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	return url.Parse(s)
}

func hasUserinfo(urls string) bool {
	for _, p := range strings.Split(urls, ",") {
		if u, err := parseURL(p); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

func newConn(nc *nats.Conn, srv *server.Server) (*Conn, error) {
	// Without a timeout, a PubAck lost with a dying server leaves its
	// future waiting for ever, and with it every batch acknowledged after
	// it: a batch whose results are not confirmed in time goes back.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		if srv != nil {
			srv.Shutdown()
		}
		return nil, err
	}
	return &Conn{NC: nc, JS: js, srv: srv}, nil
}

func (o Options) natsOptions() ([]nats.Option, error) {
	name := o.Name
	if name == "" {
		name = "fanout"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		// Without a callback the library prints asynchronous errors to
		// stderr by itself, past the command's own log.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if o.Log == nil {
				return
			}
			if sub != nil {
				fmt.Fprintf(o.Log, "%s: nats: %v (subscription %s)\n", name, err, sub.Subject)
				return
			}
			fmt.Fprintf(o.Log, "%s: nats: %v\n", name, err)
		}),
		// A lost server is said once, and its return: a worker's log
		// showed only its timeouts meanwhile, with nothing to tell an
		// outage from a slow run.
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if o.Log == nil || nc.IsClosed() { // closed on purpose
				return
			}
			why := ""
			if err != nil {
				why = " (" + err.Error() + ")"
			}
			fmt.Fprintf(o.Log, "%s: lost the connection to NATS%s; reconnecting\n", name, why)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			if o.Log != nil {
				fmt.Fprintf(o.Log, "%s: reconnected to NATS at %s\n", name, Redact(nc.ConnectedUrlRedacted()))
			}
		}),
	}
	var errs []error
	if o.Creds != "" {
		seedOnly, err := checkCreds(o.Creds)
		switch {
		case err != nil:
			errs = append(errs, err)
		case seedOnly:
			// A user nkey seed alone: for servers that list users by
			// their public nkey (authorization { users: [{nkey: U...}] }).
			opt, err := nats.NkeyOptionFromSeed(o.Creds)
			if err != nil {
				errs = append(errs, fmt.Errorf("--creds %s: %v", o.Creds, err))
			} else {
				opts = append(opts, opt)
			}
		default:
			opts = append(opts, nats.UserCredentials(o.Creds))
		}
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLSCA != "" {
		if _, err := os.Stat(o.TLSCA); err != nil {
			errs = append(errs, fmt.Errorf("--tls-ca %s: %v", o.TLSCA, unwrapPath(err)))
		}
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key: give both or neither"))
	} else if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	return opts, errors.Join(errs...)
}

// checkCreds reads a credentials file the way the connection will, so
// that a wrong file is reported as such and not as a failed handshake.
// seedOnly reports a file that holds a user's nkey seed and no JWT (as
// written by nk -gen user). Its errors never quote the file's contents.
func checkCreds(path string) (seedOnly bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("--creds %s: %v", path, unwrapPath(err))
	}
	defer clear(b)
	const what = "want the .creds file made for a NATS user (nsc generate creds), or a file with a user's nkey seed (SU...)"
	token, jwtErr := jwt.ParseDecoratedJWT(b)
	if jwtErr == nil {
		_, jwtErr = jwt.DecodeUserClaims(token)
	}
	kp, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		if jwtErr != nil {
			return false, fmt.Errorf("--creds %s: no user JWT in it (%v): %s", path, jwtErr, what)
		}
		return false, fmt.Errorf("--creds %s: no nkey seed in it (%v): %s", path, err, what)
	}
	defer kp.Wipe()
	if jwtErr == nil {
		return false, nil
	}
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicUserKey(pub) || bytes.Contains(b, []byte("NATS USER JWT")) {
		// An account's or operator's seed, or a .creds file whose JWT
		// is broken.
		return false, fmt.Errorf("--creds %s: no user JWT in it (%v) and no user nkey seed: %s", path, jwtErr, what)
	}
	return true, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Redact returns a --nats value with any user information in its URLs
// replaced, so that it can be printed or stored.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := parseURL(p)
		if err != nil || u.User == nil {
			// An '@' the parser did not take for the end of user
			// information is one after a '/', '?' or '#' in the password
			// ("nats://u:2024/pw@host" parses as host u, port 2024 and a
			// path): the URL is not what its writer meant, and quoting it
			// would print the password.
			if strings.Contains(p, "@") {
				parts[i] = "(unparsable URL)"
			}
			continue
		}
		u.User = url.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// ServerConfig configures a NATS server run in this process.
type ServerConfig struct {
	// Host and Port to listen on for clients (Port -1: any free port).
	Host string
	// Port is the client port; see Host.
	Port int
	// StoreDir is the JetStream directory (file storage).
	StoreDir string
	// ServerName names the server (required in a cluster).
	ServerName string
	// Cluster, when ClusterPort is set, joins a cluster named Cluster
	// listening on ClusterHost:ClusterPort with the given route URLs.
	Cluster string
	// ClusterHost and ClusterPort are where the server listens for the
	// other servers of its cluster; ClusterPort 0 means no cluster.
	ClusterHost string
	ClusterPort int
	// Routes are the other servers' cluster URLs (nats://host:port).
	Routes []string
	// MaxPayload is the largest message, headers included, the server
	// takes from a client; 0 means 8 MiB. (nats-server's own default is
	// 1 MiB: a server set up apart from fanout often has that.)
	MaxPayload int32
}

// ErrStoreInUse is returned by StartServer when another server, in this
// process or another, uses the store directory.
var ErrStoreInUse = errors.New("the JetStream store is in use by another server")

// StartServer starts a NATS server with JetStream in this process and
// waits until it accepts connections. It holds a lock on c.StoreDir until
// the server shuts down: two servers on one store would corrupt it, and
// JetStream opens the store before the server tries its port.
func StartServer(c ServerConfig) (*server.Server, error) {
	if err := os.MkdirAll(c.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("store dir %s: %v", c.StoreDir, unwrapPath(err))
	}
	// A server of this process that was just shut down gives its lock
	// back from a goroutine (nats-server has no hook to do it at once),
	// so a store in use is tried again for a moment before it is refused.
	unlock, err := lockStore(c.StoreDir)
	for deadline := time.Now().Add(2 * time.Second); errors.Is(err, ErrStoreInUse) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		unlock, err = lockStore(c.StoreDir)
	}
	if err != nil {
		return nil, err
	}
	srv, err := startServer(c)
	if err != nil {
		unlock()
		return nil, err
	}
	go func() {
		srv.WaitForShutdown()
		unlock()
	}()
	return srv, nil
}

func startServer(c ServerConfig) (*server.Server, error) {
	if c.Port > 0 {
		// The server reports a busy port only in its log, and only after
		// opening the store, then never becomes ready: find out first.
		hp := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
		ln, err := net.Listen("tcp", hp)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w (another program has the port: stop it or pick another address)", hp, err)
		}
		ln.Close()
	}
	opts := &server.Options{
		ServerName: c.ServerName,
		Host:       c.Host, Port: c.Port,
		JetStream: true, StoreDir: c.StoreDir,
		NoSigs: true, NoLog: true,
		MaxPayload: cmp.Or(c.MaxPayload, 8<<20),
	}
	if c.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: c.Cluster, Host: c.ClusterHost, Port: c.ClusterPort}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("nats server on %s:%d did not start", c.Host, c.Port)
	}
	return srv, nil
}

// ctxOr returns ctx with a timeout, for the short admin calls.
func ctxOr(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
