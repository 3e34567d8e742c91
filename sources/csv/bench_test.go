package csv

import (
	"bufio"
	"context"
	stdcsv "encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// writeUsers writes a SalesPro-like users export of at least size bytes to
// path: a BOM, CRLF line ends, a quoted JSON cell with doubled quotes in
// every row and a quoted two-line note in every tenth. It returns the number
// of data rows.
func writeUsers(t testing.TB, path string, size int64) int {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	n, err := w.WriteString("\uFEFFobjectId,username,email,isActive,allowedOffices,createdAt,notes\r\n")
	require.NoError(t, err)
	written, rows := int64(n), 0
	for written < size {
		note := "called back"
		if rows%10 == 0 {
			note = `"left a message,` + "\r\n" + `will call ""Monday"""`
		}
		n, err := fmt.Fprintf(w, "U%09d,user%d,user%d@example.com,%s,\"[{\"\"__type\"\":\"\"Pointer\"\",\"\"objectId\"\":\"\"Of%05d\"\"}]\",2023-05-01T14:03:22.123Z,%s\r\n",
			rows, rows, rows, []string{"TRUE", "FALSE"}[rows%2], rows%1000, note)
		require.NoError(t, err)
		written += int64(n)
		rows++
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return rows
}

// TestReadLargeFileInConstantMemory reads a 100 MB file and checks that the
// heap stays small: the source never holds more than a record or so.
func TestReadLargeFileInConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 100 MB file")
	}
	dir := t.TempDir()
	rows := writeUsers(t, filepath.Join(dir, "users.csv"), 100<<20)
	st, err := os.Stat(filepath.Join(dir, "users.csv"))
	require.NoError(t, err)
	s := mustDecode(t, dir, `source "csv" { path = "users.csv" }`)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	var peak uint64
	n, bad := 0, 0
	start := time.Now()
	err = s.Read(context.Background(), engine.ReadOptions{}, func(r engine.Record) error {
		if r.Err != nil {
			bad++
		}
		if n++; n%20000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return nil
	})
	elapsed := time.Since(start)
	require.NoError(t, err)
	runtime.ReadMemStats(&ms)

	assert.Equal(t, rows, n)
	assert.Zero(t, bad)
	t.Logf("%d rows, %.1f MB in %v (%.0f MB/s); heap in use before %.1f MiB, peak %.1f MiB; heap obtained from the OS %.1f MiB; peak RSS %s",
		n, float64(st.Size())/1e6, elapsed.Round(time.Millisecond), float64(st.Size())/1e6/elapsed.Seconds(),
		mib(before), mib(peak), mib(ms.HeapSys), peakRSS())
	assert.Less(t, peak, uint64(32<<20), "peak heap in use must not grow with the file")
}

// sink keeps benchmark results alive, as the engine would.
var sink engine.Record

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// peakRSS is the process's peak resident set size on Linux, else "n/a".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}

// BenchmarkRead compares the source with encoding/csv on a 16 MB users
// export. "source" is the whole Read: records with a fresh map, raw text and
// position. "reader" is this package's parser alone. "encoding-csv-map"
// does the same work as "source" but Raw; "encoding-csv" is encoding/csv
// alone with ReuseRecord.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "users.csv")
	rows := writeUsers(b, path, 16<<20)
	st, err := os.Stat(path)
	require.NoError(b, err)
	s := mustDecode(b, dir, `source "csv" { path = "users.csv" }`)

	run := func(b *testing.B, read func(f *os.File) int) {
		b.SetBytes(st.Size())
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Open(path)
			require.NoError(b, err)
			n := read(f)
			f.Close()
			require.Equal(b, rows, n)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	}

	b.Run("source", func(b *testing.B) {
		run(b, func(f *os.File) int {
			n := 0
			err := s.readStream(context.Background(), engine.ReadOptions{}, "users.csv", f, func(r engine.Record) error {
				n++
				sink = r
				return r.Err
			})
			require.NoError(b, err)
			return n
		})
	})
	b.Run("reader", func(b *testing.B) {
		run(b, func(f *os.File) int {
			rd := newReader(f, ',', true, defaultMaxRecordLines)
			n := -1 // the header
			var r row
			for {
				if err := rd.next(&r); err != nil || r.err != nil {
					require.ErrorIs(b, err, io.EOF)
					require.NoError(b, r.err)
					return n
				}
				n++
			}
		})
	})
	b.Run("encoding-csv-map", func(b *testing.B) {
		run(b, func(f *os.File) int {
			cr := stdcsv.NewReader(f)
			cr.FieldsPerRecord = -1
			header, err := cr.Read()
			require.NoError(b, err)
			n := 0
			for {
				rec, err := cr.Read()
				if err != nil {
					require.ErrorIs(b, err, io.EOF)
					return n
				}
				line, _ := cr.FieldPos(0)
				fields := make(map[string]any, len(header))
				for i, v := range rec {
					fields[header[i]] = v
				}
				sink = engine.Record{Fields: fields, Pos: engine.Position{File: "users.csv", Line: line}}
				n++
			}
		})
	})
	b.Run("encoding-csv", func(b *testing.B) {
		run(b, func(f *os.File) int {
			cr := stdcsv.NewReader(f)
			cr.FieldsPerRecord = -1
			cr.ReuseRecord = true
			n := -1
			for {
				if _, err := cr.Read(); err != nil {
					require.ErrorIs(b, err, io.EOF)
					return n
				}
				n++
			}
		})
	})
}
