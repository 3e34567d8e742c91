package csv

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReaderLongLines(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		want []row
	}{
		{
			name: "a line over the limit is cut and skipped",
			csv:  "a,b\n1," + strings.Repeat("é", 3000) + "\r\n2,x\n",
			want: []row{
				{line: 2, raw: "1," + strings.Repeat("é", (maxRawBytes-2)/2) + "…", err: errors.New("line 2: line longer than 4096 bytes")},
				{line: 3, raw: "2,x", fields: []string{"2", "x"}},
			},
		},
		{
			name: "a quoted field over the limit is an unbalanced quote",
			csv:  "a,b\n1,\"x\n" + strings.Repeat("y\n", 3000) + "\"\n",
			want: []row{
				{line: 2, raw: `1,"x`, err: errors.New("line 2: unbalanced quote: quoted field not closed within 4096 bytes")},
				{line: 3, raw: "y", err: errors.New("line 3: row has 1 fields, header has 2")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := newReader(strings.NewReader(tt.csv), ',', true, 1<<20)
			rd.buf = make([]byte, 1024)
			rd.maxBytes = 4096
			var hdr row
			require.NoError(t, rd.next(&hdr))
			rd.want, rd.wantFrom = 2, "header has"
			for _, want := range tt.want {
				var got row
				require.NoError(t, rd.next(&got))
				assert.Equal(t, want, got)
			}
			assert.LessOrEqual(t, len(rd.buf), 4096)
		})
	}
}

// readRows reads every row of input with a header row, from src, starting
// with a buffer of bufLen bytes.
func readRows(src io.Reader, bufLen int) ([]row, error) {
	rd := newReader(src, ',', true, 3)
	rd.buf = make([]byte, bufLen)
	var rows []row
	for {
		var r row
		err := rd.next(&r)
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		if len(rows) == 0 && r.err == nil {
			rd.want, rd.wantFrom = len(r.fields), "header has"
		}
		r.fields = append([]string(nil), r.fields...)
		rows = append(rows, r)
		if len(rows) > 1e6 {
			return rows, errors.New("no progress")
		}
	}
}

// FuzzReader checks that any input reads to the end, with lines that go up,
// whatever the reads and buffer sizes.
func FuzzReader(f *testing.F) {
	for _, tt := range readCases {
		if len(tt.csv) < 1000 {
			f.Add(tt.csv)
		}
	}
	f.Add("a,b\n\"x\r\ny\"\r\n\"\"\"\",\r\r\n\"")
	f.Fuzz(func(t *testing.T, input string) {
		want, err := readRows(strings.NewReader(input), bufSize)
		require.NoError(t, err)
		got, err := readRows(iotest.OneByteReader(strings.NewReader(input)), 1)
		require.NoError(t, err)
		require.Equal(t, want, got, "one-byte reads into a buffer grown from 1 byte")

		last := 0
		for _, r := range want {
			require.Greater(t, r.line, last)
			last = r.line
			if r.err == nil {
				require.True(t, strings.Contains(input, r.raw))
			}
		}
	})
}

// TestReaderSkipsLongLines skips lines over the limit of many lengths, so
// that the line's end (LF or CRLF) falls on every spot of the buffer.
func TestReaderSkipsLongLines(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		for n := 2000; n < 2000+600; n++ {
			rd := newReader(strings.NewReader("a,b\n1,"+strings.Repeat("x", n)+eol+"2,y"+eol), ',', true, 100)
			rd.buf = make([]byte, 64)
			rd.maxBytes = 256
			rd.want, rd.wantFrom = 2, "header has"

			var r row
			require.NoError(t, rd.next(&r))
			require.NoError(t, rd.next(&r))
			require.EqualError(t, r.err, "line 2: line longer than 256 bytes")
			require.NoError(t, rd.next(&r))
			require.Equal(t, row{line: 3, raw: "2,y", fields: []string{"2", "y"}}, r, "length %d, %q", n, eol)
			require.ErrorIs(t, rd.next(&r), io.EOF)
		}
	}
}
