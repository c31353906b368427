package store

import (
	"fmt"
	"os"
	"testing"

	"github.com/fanout/fanout/fetch"
)

// BenchmarkRecorder measures the cost of recording one result: the
// recorder's writer goroutine encoding and inserting it, batched as a run
// does. Compare ns/op with the per-request cost of a fetch. It also
// reports the database's size per result (main file plus WAL), e.g.
//
//	go test -run '^$' -bench Recorder -benchtime 200000x ./store/
func BenchmarkRecorder(b *testing.B) {
	db := openTempB(b)
	id, err := db.CreateRun([]string{"bench"}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	results := make([]*fetch.Result, b.N)
	for i := range results {
		r := sample(uint64(i))
		r.Input = fmt.Sprintf("https://h%d.example/page/%d", i%1000, i)
		results[i] = r
	}
	rec := db.Recorder(id, RecorderOptions{})
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for _, r := range results {
		rec.Add(r, r.Error == nil)
		if rec.Due() {
			if err := rec.Cut(nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := rec.Close(nil); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if cpu0 >= 0 {
		b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/result")
	}
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(db.Path() + suffix); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "dbB/result")
}

func openTempB(b *testing.B) *DB {
	db, err := Open(b.TempDir() + "/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
