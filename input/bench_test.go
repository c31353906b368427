package input

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// benchLines generates n target lines of the kinds seen in real lists: full
// URLs, bare hosts, some duplicates, comments and invalid lines.
func benchLines(n int) []byte {
	var buf bytes.Buffer
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		host := rng.IntN(n/10 + 1)
		switch i % 10 {
		case 0:
			fmt.Fprintf(&buf, "site%d.example.com\n", host)
		case 1:
			fmt.Fprintf(&buf, "HTTPS://Site%d.Example.com:443/\n", host)
		case 2:
			buf.WriteString("# a comment\n")
		case 3:
			fmt.Fprintf(&buf, "ftp://site%d.example.com/\n", host)
		default:
			fmt.Fprintf(&buf, "https://site%d.example.com/path/%d/page.html?q=%d\n", host, i, rng.IntN(100))
		}
	}
	return buf.Bytes()
}

func BenchmarkReaderNext(b *testing.B) {
	data := benchLines(100_000)
	for _, dedupe := range []bool{false, true} {
		b.Run(fmt.Sprintf("dedupe=%v", dedupe), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)) / 100_000)
			var r *Reader
			for b.Loop() {
				if r == nil {
					b.StopTimer()
					r = NewReader(Options{Dedupe: dedupe}, Source{Name: "bench", R: bytes.NewReader(data)})
					b.StartTimer()
				}
				if _, err := r.Next(); err == io.EOF {
					r = nil
				} else if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, line := range []string{
		"https://www.example.com/path/to/page.html?q=1",
		"Example.COM:8443/path",
		"http://[2001:db8::1]:8080/",
		"https://bücher.example/straße",
		"ftp://example.com/",
	} {
		b.Run(line, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse(line)
			}
		})
	}
}

func BenchmarkCount(b *testing.B) {
	data := benchLines(100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Count(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDedupe measures one Add of a new key to a set of about a million.
func BenchmarkDedupe(b *testing.B) {
	s := NewHashSet()
	rng := rand.New(rand.NewPCG(3, 3))
	for range 1 << 20 {
		s.Add(rng.Uint64())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Add(rng.Uint64())
	}
}

// BenchmarkDedupe10M inserts ten million random keys and reports the heap
// they take, the figure the 100 MB budget is about:
//
//	go test -run '^$' -bench Dedupe10M -benchtime 1x ./input/
func BenchmarkDedupe10M(b *testing.B) {
	const n = 10_000_000
	for b.Loop() {
		rss0 := vmRSS()
		s, perKey := fillSet(n, uint64(b.N))
		if rss := vmRSS(); rss > 0 {
			b.ReportMetric(float64(rss-rss0)/1e6, "rssGrowthMB")
		}
		b.ReportMetric(perKey, "B/key")
		b.ReportMetric(float64(s.SizeBytes())/n, "tableB/key")
		b.ReportMetric(float64(s.SizeBytes())/(1<<20), "tableMiB")
	}
}

// vmRSS is the process's resident set in bytes (Linux; 0 elsewhere).
func vmRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
