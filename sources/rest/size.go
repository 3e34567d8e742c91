package rest

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DefaultMaxPageSize bounds a response body (a page), which is read whole:
// a page of a few thousand records is a few MB; a larger one is refused
// rather than allowed to take the memory of the machine.
const DefaultMaxPageSize = 64 << 20

// DefaultMaxRecordSize bounds one record of a streamed document (an XML
// record, an OData Atom entry), as the CSV source bounds a line.
const DefaultMaxRecordSize = 16 << 20

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// ParseSize reads a size attribute such as "16MiB", "512 KiB" or "1000000"
// (bytes) into bytes; name labels the attribute in the diagnostic at rng.
func ParseSize(s string, rng hcl.Range, name string) (int64, *hcl.Diagnostic) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if err != nil || !ok || n <= 0 || n > (1<<62)/unit {
		return 0, errorAt(rng, "Invalid size", fmt.Sprintf("%s is %q; write a positive size such as \"16MiB\", \"512KiB\" or \"1GiB\".", name, s))
	}
	return n * unit, nil
}

// FormatSize writes a byte count for messages: "16 MiB", "1536 bytes".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// RecordLimit reads from R and fails once more than Max bytes have been
// read since the last Reset: a streaming reader calls Reset after each
// record, so no record (with what precedes it) can grow past Max in memory.
type RecordLimit struct {
	R   io.Reader
	Max int64

	n, off   int64 // bytes read since Reset, and in all
	exceeded bool
}

// errRecordTooLarge is what Read returns once the limit is passed.
var errRecordTooLarge = errors.New("record too large")

// Read implements io.Reader.
func (l *RecordLimit) Read(p []byte) (int, error) {
	if l.n > l.Max {
		l.exceeded = true
		return 0, errRecordTooLarge
	}
	if rem := l.Max + 1 - l.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	k, err := l.R.Read(p)
	l.n += int64(k)
	l.off += int64(k)
	return k, err
}

// Reset starts the count of the next record.
func (l *RecordLimit) Reset() { l.n = 0 }

// Exceeded reports whether the limit stopped a read.
func (l *RecordLimit) Exceeded() bool { return l.exceeded }

// Offset is how many bytes have been read in all.
func (l *RecordLimit) Offset() int64 { return l.off }
