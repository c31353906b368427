package fetch

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// socksForward dials a SOCKS proxy for one handshake and keeps what the
// proxy answers to it. golang.org/x/net's SOCKS client reports a refusal as
// an error of no type, its text the only difference between a wrong
// password, which every retry would meet again, and a target the proxy
// could not reach; the answer's codes (RFC 1928, RFC 1929) tell them apart.
type socksForward struct {
	d    *dialer
	conn *writeFirst
	got  []byte
}

// maxSOCKSAnswer bounds what socksForward keeps: the method choice (2
// bytes), the password verdict (2) and the start of the connect reply (2)
// are all it reads.
const maxSOCKSAnswer = 16

func (f *socksForward) Dial(network, addr string) (net.Conn, error) {
	return f.DialContext(context.Background(), network, addr)
}

func (f *socksForward) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := f.d.DialContext(ctx, network, addr)
	if wf, ok := c.(*writeFirst); ok {
		wf.rec, f.conn = &f.got, wf
	}
	return c, err
}

// done stops the recording, before the connection is handed on.
func (f *socksForward) done() {
	if f.conn != nil {
		f.conn.rec = nil
	}
}

// SOCKS5 codes fetch reads in a proxy's answers.
const (
	socksVersion      = 5
	socksNoAuth       = 0x00
	socksUserPass     = 0x02
	socksNoMethod     = 0xff
	socksUserPassVer  = 1
	socksReplyRuleset = 0x02
	socksReplyCommand = 0x07
	socksReplyAddress = 0x08
)

// socksReplies names the connect reply codes of RFC 1928 section 6.
var socksReplies = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// refusal reads the proxy's answers to a handshake that failed, and returns
// the refusal they hold as a refused connection that says what was refused,
// or nil when the proxy did not answer (a closed connection, a timeout, not
// SOCKS 5). A refusal of the client itself (its credentials, or the lack of
// them) is permanent, and no reason for a bare host's http fallback, which
// would meet it again; a refused connect is the target's state as the proxy
// sees it, permanent only when the proxy's rules or abilities forbid it.
func (f *socksForward) refusal(u *url.URL, addr string) *kindError {
	a := f.got
	if len(a) < 2 || a[0] != socksVersion {
		return nil
	}
	p := "SOCKS proxy " + u.Redacted()
	off := 2
	switch a[1] {
	case socksNoAuth:
	case socksUserPass:
		if len(a) < 4 || a[2] != socksUserPassVer {
			return nil
		}
		if a[3] != 0 {
			return &kindError{kind: KindRefused, permanent: true, noFallback: true,
				msg: p + " refused the user name and password (give the right ones in its URL: socks5://user:password@host:port)"}
		}
		off = 4
	case socksNoMethod:
		msg := p + " wants a user name and password (give them in its URL: socks5://user:password@host:port)"
		if u.User != nil {
			msg = p + " accepts neither a user name and password nor no authentication"
		}
		return &kindError{kind: KindRefused, permanent: true, noFallback: true, msg: msg}
	default:
		return &kindError{kind: KindRefused, permanent: true, noFallback: true,
			msg: fmt.Sprintf("%s wants an authentication method fanout does not support (method %d)", p, a[1])}
	}
	if len(a) < off+2 || a[off] != socksVersion || a[off+1] == 0 {
		return nil
	}
	code := a[off+1]
	why := "reply " + strconv.Itoa(int(code))
	if int(code) < len(socksReplies) {
		why = socksReplies[code]
	}
	return &kindError{kind: KindRefused,
		permanent: code == socksReplyRuleset || code == socksReplyCommand || code == socksReplyAddress,
		msg:       fmt.Sprintf("%s refused the connection to %s: %s", p, addr, why)}
}
