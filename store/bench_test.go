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
	db := recordBench(b, func(rec *Recorder, _ int) bool { return rec.Due() })
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(db.Path() + suffix); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "dbB/result")
}

// BenchmarkRecorderBatch is BenchmarkRecorder with a commit every size
// results, waited for, as in a run whose writer keeps up (BenchmarkRecorder
// lets batches grow while the writer is busy): what a commit's size costs
// per result, e.g.
//
//	go test -run '^$' -bench RecorderBatch -benchtime 100000x -count 3 ./store/
func BenchmarkRecorderBatch(b *testing.B) {
	for _, size := range []int{minBatch, 4 * minBatch, 10 * minBatch} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			// Cut waits while the last commit runs.
			recordBench(b, func(_ *Recorder, i int) bool { return (i+1)%size == 0 })
		})
	}
}

// recordBench records b.N sample results in a new database, cutting a
// batch after result i when cut says so, and reports the CPU per result.
func recordBench(b *testing.B, cut func(rec *Recorder, i int) bool) *DB {
	db := openTempB(b)
	id, err := db.CreateRun([]string{"bench"}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	results := benchResults(b.N)
	rec := db.Recorder(id, RecorderOptions{})
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i, r := range results {
		rec.Add(r, r.Error == nil)
		if cut(rec, i) {
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
	return db
}

// benchResults are n sample results over 1,000 hosts.
func benchResults(n int) []*fetch.Result {
	results := make([]*fetch.Result, n)
	for i := range results {
		r := sample(uint64(i))
		r.Input = fmt.Sprintf("https://h%d.example/page/%d", i%1000, i)
		results[i] = r
	}
	return results
}

func openTempB(b *testing.B) *DB {
	db, err := Open(b.TempDir() + "/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
