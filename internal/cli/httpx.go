package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// refuseHTTPXFlags refuses, before pflag parses args, a single-dash word
// in flag position that is one of httpx's flags. pflag reads one dash as
// a cluster of short flags, and fanout's letters are common ones: "-duc"
// is -d uc, a POST with body "uc"; "-ob" is -o b, the results written to a
// file named b; "-vhost" is -v -h -o st, the help printed and exit 0. A
// word pflag cannot read ("-silent") would be refused by it too, but with
// a message about the letter s; this one says what to write instead.
//
// Every command is checked: those that send requests take the main
// command's letters, and the others' -f and -o misread as much ("fanout
// show 3 -ob" wrote a file named b). The hints are the main command's.
//
// Left alone, as pflag reads them: the value of the flag before ("-d
// -debug" sends the body "-debug", as curl would; "-H -json" is a header
// value), everything after "--", a word that is exactly one of fanout's
// own letters (-o, -H, -x, -v are both tools' flags), and any word not in
// httpx's list: clusters of fanout's flags ("-qk") and values attached
// curl-style ("-d@body.json", "-c50", "-HAccept:x", "-oout.jsonl").
func refuseHTTPXFlags(root *cobra.Command, args []string) error {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		return nil // a shell asking for completions of what is typed so far, not a run
	}
	cmd, _, err := root.Find(args)
	if err != nil {
		return nil // cobra says what is wrong
	}
	// -h and -v are added when the command runs; a word read through them
	// ("-vhost") must see them now.
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	fs := cmd.Flags()
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return nil
		case strings.HasPrefix(a, "--"):
			name, _, inline := strings.Cut(a[2:], "=")
			if fl := fs.Lookup(name); fl != nil && !inline && fl.NoOptDefVal == "" {
				i++ // its value
			}
		case len(a) > 1 && a[0] == '-':
			word, _, _ := strings.Cut(a[1:], "=")
			hint, ok := httpxFlags[word]
			if ok && (len(word) > 1 || fs.ShorthandLookup(word) == nil) {
				return usageError{httpxFlagError(fs, a, args[i+1:], hint)}
			}
			if _, value, next := readShorts(fs, a[1:], args[i+1:]); next && value != "" {
				i++
			}
		}
	}
	return nil
}

// httpxFlagError says that arg, followed by rest, is httpx's flag, how
// fanout would have read it, and what to write instead.
func httpxFlagError(fs *pflag.FlagSet, arg string, rest []string, hint string) error {
	word, _, _ := strings.Cut(arg[1:], "=")
	whose := flagOwner(word)
	var readAs string
	if fls, value, _ := readShorts(fs, arg[1:], rest); fls != nil {
		var as, effects []string
		for i, fl := range fls {
			v := ""
			if i == len(fls)-1 && fl.NoOptDefVal == "" {
				v = value
			}
			as = append(as, strings.TrimSpace("-"+fl.Shorthand+" "+v))
			effects = append(effects, effect(fl, v))
		}
		readAs = fmt.Sprintf(" (read here as %s: %s)", strings.Join(as, " "), strings.Join(effects, ", "))
	}
	return fmt.Errorf("-%s is %s flag, not fanout's%s; %s", word, whose, readAs, hint)
}

// flagOwner names the tool whose flag word (a key of httpxFlags) is.
func flagOwner(word string) string {
	if word == "or" {
		return "katana's" // -omit-raw, of the crawler that feeds httpx
	}
	return "httpx's"
}

// readShorts reads s, a word after one dash, as pflag does: the flags it
// names, in order, and the value of the last one if it takes one, with
// next true when that value is rest's first argument. fls is nil when
// pflag would refuse the word itself (a letter that is no flag here, or a
// value missing).
func readShorts(fs *pflag.FlagSet, s string, rest []string) (fls []*pflag.Flag, value string, next bool) {
	for len(s) > 0 {
		fl := fs.ShorthandLookup(s[:1])
		if fl == nil {
			return nil, "", false
		}
		fls = append(fls, fl)
		switch {
		case len(s) > 2 && s[1] == '=':
			return fls, s[2:], false
		case fl.NoOptDefVal != "":
			s = s[1:]
		case len(s) > 1:
			return fls, s[1:], false
		case len(rest) > 0:
			return fls, rest[0], true
		default:
			return nil, "", false
		}
	}
	return fls, "", false
}

// effect says what fl given value does, for the flags whose reading of
// an httpx word does harm or puzzles.
func effect(fl *pflag.Flag, value string) string {
	switch fl.Name {
	case "data":
		return fmt.Sprintf("a POST with body %q", value)
	case "output":
		return fmt.Sprintf("the results written to a file named %q", value)
	case "input":
		return fmt.Sprintf("targets read from a file named %q", value)
	case "header":
		return fmt.Sprintf("the request header %q", value)
	case "proxy":
		return fmt.Sprintf("requests sent through the proxy %q", value)
	case "insecure":
		return "certificates not verified"
	case "quiet":
		return "no summary"
	case "help":
		return "the help printed"
	case "version":
		return "the version printed"
	}
	if fl.NoOptDefVal != "" {
		return "--" + fl.Name
	}
	return fmt.Sprintf("--%s %q", fl.Name, value)
}

// The hints of httpxFlags that name no equivalent.
const (
	noOption = "fanout has no such option"
	dropIt   = "fanout does that anyway: drop it"
)

// httpxFlags are httpx's flags (projectdiscovery/httpx runner/options.go,
// v1.6: short and long names, as its -h lists them) with what to write
// here instead; a flag that is also fanout's letter (-o, -H, -x, -v) is
// left out, but not its long name: "-output out.txt" was read as -o utput
// and the file name fetched as a host. The hint follows "; " in the message.
var httpxFlags = map[string]string{
	// Input.
	"l": "here: -i FILE", "list": "here: -i FILE",
	"rr": noOption, "request": noOption,
	"u": "here: targets are arguments", "target": "here: targets are arguments",
	// Probes: every result has its status, size, type, title, server,
	// IP, method, protocol, timing and redirects.
	"sc": dropIt + " (status)", "status-code": dropIt + " (status)",
	"cl": dropIt + " (bytes, content_length)", "content-length": dropIt + " (bytes, content_length)",
	"ct": dropIt + " (content_type)", "content-type": dropIt + " (content_type)",
	"location": dropIt + " (redirects, location in -f jsonl)",
	"favicon":  noOption, "jarm": noOption,
	"hash": dropIt + " (body_sha256 in -f jsonl; SHA-256 only)",
	"rt":   dropIt + " (timing)", "response-time": dropIt + " (timing)",
	"lc": noOption, "line-count": noOption, "wc": noOption, "word-count": noOption,
	"title": dropIt + " (title)",
	"bp":    "here: --save DIR keeps each body", "body-preview": "here: --save DIR keeps each body",
	"server": dropIt + " (server)", "web-server": dropIt + " (server)",
	"td": noOption, "tech-detect": noOption,
	"method":    dropIt + " (method)",
	"websocket": noOption,
	"ip":        dropIt + " (ip in -f jsonl)",
	"cname":     noOption, "efqdn": noOption, "extract-fqdn": noOption, "asn": noOption, "cdn": noOption,
	"probe": dropIt + " (status, or the error kind)",
	// Headless.
	"ss": noOption, "screenshot": noOption, "system-chrome": noOption,
	"ho": noOption, "headless-options": noOption, "esb": noOption, "exclude-screenshot-bytes": noOption,
	"ehb": noOption, "exclude-headless-body": noOption, "no-screenshot-full-page": noOption,
	"st": noOption, "screenshot-timeout": noOption, "sid": noOption, "screenshot-idle": noOption,
	// Matchers and filters.
	"mc":          `here: --accept CODES judges each result ("accepted" in -f jsonl), and --accepted writes only those`,
	"match-code":  `here: --accept CODES judges each result ("accepted" in -f jsonl), and --accepted writes only those`,
	"fc":          `here: --accept CODES without those codes judges each result ("accepted" in -f jsonl), and --accepted writes only those`,
	"filter-code": `here: --accept CODES without those codes judges each result ("accepted" in -f jsonl), and --accepted writes only those`,
	"ml":          noOption, "match-length": noOption, "mlc": noOption, "match-line-count": noOption,
	"mwc": noOption, "match-word-count": noOption, "mfc": noOption, "match-favicon": noOption,
	"ms": "here: --match STRING (repeatable: the body must contain each)", "match-string": "here: --match STRING (repeatable: the body must contain each)",
	"mr": "fanout has no regex match: --match STRING matches exact text", "match-regex": "fanout has no regex match: --match STRING matches exact text",
	"mcdn": noOption, "match-cdn": noOption, "mrt": noOption, "match-response-time": noOption,
	"mdc": noOption, "match-condition": noOption,
	"er": noOption, "extract-regex": noOption, "ep": noOption, "extract-preset": noOption,
	"fep": noOption, "filter-error-page": noOption, "fd": noOption, "filter-duplicates": noOption,
	"fl": noOption, "filter-length": noOption, "flc": noOption, "filter-line-count": noOption,
	"fwc": noOption, "filter-word-count": noOption, "ffc": noOption, "filter-favicon": noOption,
	"fs": noOption, "filter-string": noOption, "fe": noOption, "filter-regex": noOption,
	"fcdn": noOption, "filter-cdn": noOption, "frt": noOption, "filter-response-time": noOption,
	"fdc": noOption, "filter-condition": noOption, "strip": noOption,
	// Rate limit.
	"t": "here: -c N", "threads": "here: -c N",
	"rl": "here: --rate N (attempts per second)", "rate-limit": "here: --rate N (attempts per second)",
	"rlm": "here: --rate N/60 (attempts per second)", "rate-limit-minute": "here: --rate N/60 (attempts per second)",
	// Miscellaneous.
	"pa": noOption, "probe-all-ips": noOption,
	"p": noOption + ": give each host:port as a target", "ports": noOption + ": give each host:port as a target",
	"path":      noOption + ": give each URL with its path",
	"tls-probe": noOption, "csp-probe": noOption, "tls-grab": noOption, "pipeline": noOption,
	"http2": "here: HTTP/2 is used when the server offers it (proto in -f jsonl); --http1.1 turns it off",
	"vhost": noOption, "ldv": noOption, "list-dsl-variables": noOption,
	// Update.
	"up": "fanout does not update itself", "update": "fanout does not update itself",
	"duc": "fanout never checks for updates: drop it", "disable-update-check": "fanout never checks for updates: drop it",
	// Output (-o is both tools').
	"output": "here: -o FILE (or --output FILE)",
	"oa":     "here: -o FILE with -f text, jsonl, csv or url", "output-all": "here: -o FILE with -f text, jsonl, csv or url",
	"sr": "here: --save DIR", "store-response": "here: --save DIR",
	"srd": "here: --save DIR", "store-response-dir": "here: --save DIR",
	"ob": "fanout writes no bodies in its results: drop it", "omit-body": "fanout writes no bodies in its results: drop it",
	"or":   "fanout writes no raw requests or responses in its results: drop it",
	"csv":  "here: -f csv",
	"csvo": noOption, "csv-output-encoding": noOption,
	"j": "here: -f jsonl", "json": "here: -f jsonl",
	"irh": "here: --response-headers (\"headers\" in -f jsonl)", "include-response-header": "here: --response-headers (\"headers\" in -f jsonl)",
	"irr": "here: --save DIR keeps each body", "include-response": "here: --save DIR keeps each body",
	"irrb": "here: --save DIR keeps each body", "include-response-base64": "here: --save DIR keeps each body",
	"include-chain": dropIt + " (redirects in -f jsonl)", "store-chain": dropIt + " (redirects in -f jsonl)",
	"svrc": noOption, "store-vision-recon-cluster": noOption,
	"pr": "here: --http1.1", "protocol": "here: --http1.1",
	"fepp": noOption, "filter-error-page-path": noOption,
	// Configurations (-H and -x are both tools'; httpx's -x is methods).
	"header": `here: -H "Name: value" (or --header)`,
	"config": noOption,
	"r":      "here: --resolve HOST:PORT:ADDR pins a name; other names use the system's resolver", "resolvers": "here: --resolve HOST:PORT:ADDR pins a name; other names use the system's resolver",
	"allow": noOption, "deny": noOption, "sni": noOption, "sni-name": noOption,
	"random-agent": "here: -A UA",
	"proxy":        "here: -x URL", "http-proxy": "here: -x URL",
	"unsafe": noOption,
	"resume": "here: --db FILE, then fanout resume",
	"fr":     "redirects are followed unless --no-follow: drop it", "follow-redirects": "redirects are followed unless --no-follow: drop it",
	"maxr": "here: --max-redirects N", "max-redirects": "here: --max-redirects N",
	"fhr": noOption, "follow-host-redirects": noOption, "rhsts": noOption, "respect-hsts": noOption,
	"vhost-input": noOption,
	"body":        "here: -d DATA",
	"s":           dropIt + " (results stream as they come)", "stream": dropIt + " (results stream as they come)",
	"sd": "here: --no-dedupe", "skip-dedupe": "here: --no-dedupe",
	"ldp": noOption, "leave-default-ports": noOption, "ztls": noOption, "no-decode": noOption,
	"tlsi": noOption, "tls-impersonate": noOption,
	"no-stdin": "stdin is read only with -i - or when no target is given: drop it",
	"hae":      noOption, "http-api-endpoint": noOption,
	// Debug (-v is both tools': fanout's prints the version).
	"hc": noOption, "health-check": noOption,
	"debug": noOption, "debug-req": noOption, "debug-resp": noOption,
	"version": "here: --version",
	"stats":   "here: the progress bar and the summary, on stderr", "si": noOption, "stats-interval": noOption,
	"profile-mem": noOption,
	"silent":      "here: -q",
	"verbose":     noOption,
	"nc":          "here: --color never", "no-color": "here: --color never",
	"tr": noOption, "trace": noOption,
	// Optimizations.
	"nf": noOption + " (its --no-fallback tries https only)", "no-fallback": noOption + " (its --no-fallback tries https only)",
	"nfs": dropIt + " (a target with a scheme is fetched with it alone)", "no-fallback-scheme": dropIt + " (a target with a scheme is fetched with it alone)",
	"maxhr": "here: --max-host-errors N", "max-host-error": "here: --max-host-errors N",
	"e": noOption, "exclude": noOption, "ec": noOption, "exclude-cdn": noOption,
	"retries": "here: --retries N (default 2)",
	"timeout": "here: --timeout D (seconds, or 500ms, 2m)",
	"delay":   "here: --rate R or --host-rate R",
	"rsts":    "here: --max-body SIZE", "response-size-to-save": "here: --max-body SIZE",
	"rstr": "here: --max-body SIZE", "response-size-to-read": "here: --max-body SIZE",
	// Cloud.
	"auth": noOption, "ac": noOption, "auth-config": noOption, "pd": noOption, "dashboard": noOption,
	"tid": noOption, "team-id": noOption, "aid": noOption, "asset-id": noOption,
	"aname": noOption, "asset-name": noOption, "pdu": noOption, "dashboard-upload": noOption,
}
