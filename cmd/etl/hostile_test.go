package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// TestHostileValuesIntegration loads values that break naive code into the
// real PostgreSQL: each is stored faithfully or rejected with its reason,
// and no good row is lost on the way.
func TestHostileValuesIntegration(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	big := strings.Repeat("héllo wörld ", 5<<20/13)   // ~5 MB of text
	huge := `["` + strings.Repeat("x", 10<<20) + `"]` // a 10 MB record
	deepOK := strings.Repeat("[", 500) + strings.Repeat("]", 500)
	tooDeep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	meta := `'); DROP TABLE hostile; -- $(rm -rf /) ` + "`id`" + ` \N \. "quoted" ;|&`

	var csv bytes.Buffer
	csv.WriteString("id,txt,num,flt,js\n")
	row := func(id int, txt, num, flt, js string) {
		q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
		fmt.Fprintf(&csv, "%d,%s,%s,%s,%s\n", id, q(txt), q(num), q(flt), q(js))
	}
	row(1, "plain", "1", "1.5", `{"a":1}`)
	row(2, meta, "2", "2", `{"sql":"'; DROP TABLE x; --"}`)
	row(3, big, "3", "3", `[]`)
	row(4, "too big an integer", "99999999999999999999", "4", `[]`)
	row(5, "not a number", "5", "NaN", `[]`)
	row(6, "nested", "6", "6", deepOK)
	row(7, "too deep", "7", "7", tooDeep)
	csv.WriteString("8,\"nul \x00 byte\",8,8,[]\n")
	csv.WriteString("9,\"bad \xff\xfe utf-8\",9,9,[]\n")
	row(10, "huge record", "10", "10", huge)
	row(11, "infinity", "11", "+Inf", `[]`)
	row(12, "last", "12", "12", `null`)
	csvPath := filepath.Join(dir, "hostile.csv")
	require.NoError(t, os.WriteFile(csvPath, csv.Bytes(), 0o644))

	pl := filepath.Join(dir, "hostile.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(fmt.Sprintf(`pipeline "hostile" {
  system      = "test"
  entity      = "hostile"
  max_rejects = 10
  source "csv" {
    path = %q
  }
  map {
    id  = "int(record.id)"
    txt = "record.txt"
    num = "int(record.num)"
    flt = "float(record.flt)"
    js  = "json(record.js)"
  }
  sink "warehouse" {
    url   = %q
    table = "hostile"
    key   = ["id"]
  }
}
`, csvPath, url)), 0o644))

	code, out, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitPartial, code, "%s\n%s", out, errOut)
	assert.Contains(t, out, "processed 12 = created 6 + updated 0 + unchanged 0 + rejected 6 + failed 0")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	var ids []int64
	rows, err := conn.Query(ctx, `SELECT id FROM hostile ORDER BY id`)
	require.NoError(t, err)
	ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3, 6, 10, 12}, ids)

	var txt string
	require.NoError(t, conn.QueryRow(ctx, `SELECT txt FROM hostile WHERE id = 2`).Scan(&txt))
	assert.Equal(t, meta, txt, "metacharacters are stored as they are")
	var sum string
	require.NoError(t, conn.QueryRow(ctx, `SELECT encode(sha256(convert_to(txt, 'UTF8')), 'hex') FROM hostile WHERE id = 3`).Scan(&sum))
	h := sha256.Sum256([]byte(big))
	assert.Equal(t, hex.EncodeToString(h[:]), sum, "5 MB of text stored byte for byte")
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT length(js->>0) FROM hostile WHERE id = 10`).Scan(&n))
	assert.Equal(t, 10<<20, n, "a 10 MB record lands whole")
	require.NoError(t, conn.QueryRow(ctx, `SELECT jsonb_array_length(js) FROM hostile WHERE id = 6`).Scan(&n))
	assert.Equal(t, 1, n)

	type rej struct {
		Line   int32
		Check  string
		Reason string
	}
	rows, err = conn.Query(ctx, `SELECT line, check_name, left(reason, 60) FROM etl_rejects ORDER BY line`)
	require.NoError(t, err)
	rejects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rej])
	require.NoError(t, err)
	require.Len(t, rejects, 6)
	want := []struct {
		line          int32
		check, reason string
	}{
		{5, "map num", "int:"},
		{6, "map flt", "float:"},
		{8, "map js", "json:"},
		{9, "source", "NUL"},
		{10, "source", "UTF-8"},
		{12, "map flt", "float:"},
	}
	for i, w := range want {
		assert.Equal(t, w.line, rejects[i].Line, "reject %d", i)
		assert.Equal(t, w.check, rejects[i].Check, "reject %d", i)
		assert.Contains(t, rejects[i].Reason, w.reason, "reject %d", i)
	}
}
