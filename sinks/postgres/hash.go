package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
)

// Row hashes: an upsert target whose key columns are text or integer keeps,
// in etl_row_hash, the hash of the row the sink last wrote for each key (in
// the transaction that wrote it). A batch first fetches the stored hashes of
// its keys (one index scan), and a row whose hash matches is never sent:
// it counts unchanged. The rest land as before (direct COPY or staging and
// INSERT … ON CONFLICT, which still compares them with the stored rows), and
// their hashes are stored with them. A statement trigger on the target notes any
// UPDATE, DELETE or TRUNCATE by another session (etl_row_hash_edits); the
// next Prepare then discards the table's hashes, so that run compares every
// row with the stored one. See README.md, "Unchanged rows".

// rowHashLen is the length of a stored row hash: the first 16 bytes of a
// SHA-256.
const rowHashLen = 16

// editTrigger names the statement trigger the sink puts on a hashed target.
const editTrigger = "etl_row_hash_edited"

// sinkWriteSQL marks a transaction as the sink's own write, which the edit
// trigger ignores. It lasts until the transaction ends.
const sinkWriteSQL = "SET LOCAL etl.sink_write = 'on'"

// hashable reports whether t's rows can be recognised by their hash: an
// upsert whose key columns are all text or integer (their text, the stored
// key, is the same in Go and in SQL), unless the pipeline asks that every
// row be compared with the stored one.
func hashable(t engine.Table) bool {
	if t.Mode != engine.ModeUpsert || len(t.Key) == 0 || t.VerifyUnchanged {
		return false
	}
	types := map[string]engine.ColumnType{}
	for _, c := range t.Columns {
		types[c.Name] = c.Type
	}
	for _, k := range t.Key {
		if ty := types[k]; ty != engine.TypeText && ty != engine.TypeInteger {
			return false
		}
	}
	return true
}

// editTriggerDDL returns the CREATE TRIGGER that puts the edit trigger on
// t's table, or "" when t is not hashable, the journal lacks the trigger's
// function (not migrated), the sink may not create triggers on the table,
// or it has the trigger already. oid is the table's, nil for a table not
// created yet.
func editTriggerDDL(ctx context.Context, tx pgx.Tx, t engine.Table, oid *uint32) (string, error) {
	if !hashable(t) {
		return "", nil
	}
	var fn *string
	var ok bool
	err := tx.QueryRow(ctx, `SELECT (SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname)
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE p.oid = to_regproc('etl_row_hash_edited')),
		$1::oid IS NULL OR (has_table_privilege($1::oid, 'TRIGGER')
			AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::oid AND tgname = $2))`, oid, editTrigger).Scan(&fn, &ok)
	if err != nil || fn == nil || !ok {
		return "", err
	}
	return "CREATE TRIGGER " + editTrigger + " AFTER UPDATE OR DELETE OR TRUNCATE ON " + destination(t).Sanitize() +
		" FOR EACH STATEMENT EXECUTE FUNCTION " + *fn + "()", nil
}

// prepareHashes returns the etl_row_hash_tables id of t's table, 0 when its
// rows are not to be recognised by hash (not hashable, the edit trigger
// missing or disabled, a server before PostgreSQL 12, which lacks
// plan_cache_mode), and whether it has
// stored hashes to look up. It discards the table's stored hashes when
// another session edited the table since (the trigger's mark), when the
// table is not the one they were taken of (dropped and created again), or
// when it is empty. Prepare calls it in its transaction, after the table's DDL.
func prepareHashes(ctx context.Context, tx pgx.Tx, t engine.Table, empty bool) (id int32, stored bool, err error) {
	if !hashable(t) {
		return 0, false, nil
	}
	name := destination(t).Sanitize()
	var relid *uint32
	var enabled bool
	if err := tx.QueryRow(ctx, `SELECT c.oid, current_setting('server_version_num')::int >= 120000
			AND coalesce((SELECT tgenabled IN ('O', 'A') FROM pg_trigger WHERE tgrelid = c.oid AND tgname = $2), false)
		FROM pg_class c WHERE c.oid = $1::regclass`, name, editTrigger).Scan(&relid, &enabled); err != nil {
		return 0, false, err
	}
	if !enabled {
		return 0, false, nil
	}
	var known uint32
	if err := tx.QueryRow(ctx, `INSERT INTO etl_row_hash_tables AS h (table_name, relid) VALUES ($1, $2)
		ON CONFLICT (table_name) DO UPDATE SET relid = h.relid
		RETURNING id, relid`, name, *relid).Scan(&id, &known); err != nil {
		return 0, false, fmt.Errorf("register the table's row hashes: %w", err)
	}
	var edited bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl_row_hash_edits WHERE relid = $1)`, *relid).Scan(&edited); err != nil {
		return 0, false, err
	}
	if edited || known != *relid || empty {
		if _, err := tx.Exec(ctx, `DELETE FROM etl_row_hash WHERE table_id = $1`, id); err != nil {
			return 0, false, fmt.Errorf("discard the row hashes: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM etl_row_hash_edits WHERE relid = $1 OR relid = $2`, *relid, known); err != nil {
			return 0, false, err
		}
		if _, err := tx.Exec(ctx, `UPDATE etl_row_hash_tables SET relid = $2 WHERE id = $1`, id, *relid); err != nil {
			return 0, false, err
		}
	}
	if !edited && known == *relid && !empty {
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl_row_hash WHERE table_id = $1)`, id).Scan(&stored); err != nil {
			return 0, false, err
		}
	}
	return id, stored, nil
}

// hashedBatch is a batch's rows with their keys and hashes.
type hashedBatch struct {
	table  int32    // etl_row_hash_tables id
	keys   []string // keys[i] is row i's key text; "" with ok[i] false
	hashes [][]byte // hashes[i] is row i's hash
	ok     []bool   // row i has a key text and a hash
	skip   []bool   // row i equals the stored row: not sent
}

// newHashedBatch computes the key text and hash of each of rows. A row
// whose key is NULL or not valid text, or that holds a value of a type the
// hash does not know, has neither and is always sent.
func newHashedBatch(t engine.Table, table int32, rows [][]any) *hashedBatch {
	keyPos := make([]int, len(t.Key))
	for i, k := range t.Key {
		for j, c := range t.Columns {
			if c.Name == k {
				keyPos[i] = j
			}
		}
	}
	h := &hashedBatch{table: table, keys: make([]string, len(rows)), hashes: make([][]byte, len(rows)),
		ok: make([]bool, len(rows)), skip: make([]bool, len(rows))}
	seed := columnsSeed(t)
	sums := make([]byte, len(rows)*rowHashLen)
	var buf []byte
	for i, row := range rows {
		key, ok := keyText(row, keyPos)
		if !ok {
			continue
		}
		buf = append(buf[:0], seed...)
		if buf, ok = appendRow(buf, row); !ok {
			continue
		}
		sum := sha256.Sum256(buf)
		h.hashes[i] = sums[i*rowHashLen : (i+1)*rowHashLen : (i+1)*rowHashLen]
		copy(h.hashes[i], sum[:])
		h.keys[i], h.ok[i] = key, true
	}
	return h
}

// columnsSeed starts every row's hash: the columns' names and types, so
// that a changed mapping changes every hash.
func columnsSeed(t engine.Table) []byte {
	var b []byte
	for _, c := range t.Columns {
		b = binary.AppendUvarint(b, uint64(len(c.Name)))
		b = append(b, c.Name...)
		b = append(b, c.Type...)
		b = append(b, 0)
	}
	return b
}

// keyText is the stored text of a row's key (see migrations/postgres
// 0006_row_hash.sql): one column's text, or each column's byte length, ':'
// and text, concatenated.
func keyText(row []any, pos []int) (string, bool) {
	part := func(v any) (string, bool) {
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), true
		case string:
			return x, true
		}
		return "", false
	}
	if len(pos) == 1 {
		s, ok := part(row[pos[0]])
		return s, ok && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
	}
	var b strings.Builder
	for _, p := range pos {
		s, ok := part(row[p])
		if !ok {
			return "", false
		}
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	s := b.String()
	return s, utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// appendRow appends an unambiguous encoding of row's values (a type tag,
// then the value) to b; false for a value of a type it does not know.
func appendRow(b []byte, row []any) ([]byte, bool) {
	for _, v := range row {
		switch x := v.(type) {
		case nil:
			b = append(b, 0)
		case string:
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		case int64:
			b = append(b, 2)
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		case float64:
			b = append(b, 3)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		case bool:
			b = append(b, 4)
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case time.Time:
			b = append(b, 5)
			b = binary.LittleEndian.AppendUint64(b, uint64(x.Unix()))
			b = binary.LittleEndian.AppendUint32(b, uint32(x.Nanosecond()))
		default:
			return b, false
		}
	}
	return b, true
}

// lookupSettings are set around the lookup, and reset after it. Planned
// for a batch's 2000 keys, with no statistics on a freshly loaded
// etl_row_hash, PostgreSQL 15 chose to scan the index for the table id
// alone and filter the keys: 1.8 s a batch at 1M rows, against 4 ms for
// the generic plan, which probes the index for each key; and a plan cached
// while the table was small could scan it whole for every batch once it is
// large. So: always the generic plan, never a sequential scan.
var lookupSettings = []string{"plan_cache_mode = force_generic_plan", "enable_seqscan = off"}

// lookupSQL fetches the stored hashes of a batch's keys: an index scan of
// etl_row_hash's primary key.
const lookupSQL = `SELECT key, row_hash FROM etl_row_hash WHERE table_id = $1 AND key = ANY($2::text[])`

// begin begins the batch's transaction, marked as the sink's write (see
// sinkWriteSQL), and, with lookup (the table had stored hashes when the run
// began), marks the rows whose stored hash matches, in one round trip. A key
// that comes more than once in the batch is always sent, so that the last
// row of it wins as in the staging upsert. It returns the rows to send and
// the number skipped.
func (h *hashedBatch) begin(ctx context.Context, c *pgx.Conn, rows [][]any, lookup bool) ([][]any, int, error) {
	if !lookup {
		if err := beginNoting(ctx, c, "BEGIN; "+sinkWriteSQL); err != nil {
			return nil, 0, fmt.Errorf("begin: %w", err)
		}
		return rows, 0, nil
	}
	first := make(map[string]int, len(rows)) // key → its row, -1 when it comes twice
	var keys []string
	for i, ok := range h.ok {
		if !ok {
			continue
		}
		if _, dup := first[h.keys[i]]; dup {
			first[h.keys[i]] = -1
			continue
		}
		first[h.keys[i]] = i
		keys = append(keys, h.keys[i])
	}
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue(sinkWriteSQL)
	for _, s := range lookupSettings {
		batch.Queue("SET LOCAL " + s)
	}
	batch.Queue(xactSQL)
	batch.Queue(lookupSQL, h.table, keys)
	for _, s := range lookupSettings {
		name, _, _ := strings.Cut(s, " ")
		batch.Queue("RESET " + name)
	}
	br := c.SendBatch(ctx, batch)
	defer br.Close()
	for range 2 + len(lookupSettings) {
		if _, err := br.Exec(); err != nil {
			return nil, 0, fmt.Errorf("begin: %w", err)
		}
	}
	if err := noteXact(br, c); err != nil {
		return nil, 0, fmt.Errorf("begin: %w", err)
	}
	found, err := br.Query()
	if err != nil {
		return nil, 0, fmt.Errorf("look up the stored row hashes: %w", err)
	}
	var key string
	var stored []byte
	skipped := 0
	if _, err := pgx.ForEachRow(found, []any{&key, &stored}, func() error {
		if i := first[key]; i >= 0 && string(stored) == string(h.hashes[i]) {
			h.skip[i] = true
			skipped++
		}
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("look up the stored row hashes: %w", err)
	}
	for range lookupSettings {
		if _, err := br.Exec(); err != nil {
			return nil, 0, fmt.Errorf("look up the stored row hashes: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, 0, fmt.Errorf("look up the stored row hashes: %w", err)
	}
	if skipped == 0 {
		return rows, 0, nil
	}
	send := make([][]any, 0, len(rows)-skipped)
	for i, row := range rows {
		if !h.skip[i] {
			send = append(send, row)
		}
	}
	return send, skipped, nil
}

// storeSQL stores the hashes of the rows a batch wrote (or found equal).
const storeSQL = `INSERT INTO etl_row_hash AS h (table_id, key, row_hash, run_id)
	SELECT $1, u.key, u.row_hash, $4 FROM unnest($2::text[], $3::bytea[]) AS u(key, row_hash)
	ON CONFLICT (table_id, key) DO UPDATE SET row_hash = EXCLUDED.row_hash, run_id = EXCLUDED.run_id`

// storeNewSQL stores the hashes of rows a direct COPY created: their keys
// were in neither the table nor etl_row_hash (Prepare discards the hashes
// of an empty table, and a key another session wrote since would have
// failed the COPY), so a plain INSERT, which costs the server about half
// of the upsert (measured: 1M hashes in batches of 2000, 13 against 27 s of
// server time on a loaded machine).
const storeNewSQL = `INSERT INTO etl_row_hash (table_id, key, row_hash, run_id)
	SELECT $1, u.key, u.row_hash, $4 FROM unnest($2::text[], $3::bytea[]) AS u(key, row_hash)`

// queue adds to end the statement that stores the hashes of the rows sent
// (the last row of a key wins): by plain INSERT when created, a direct COPY
// having created every row.
func (h *hashedBatch) queue(end *tail, run int64, created bool) {
	var keys []string
	var hashes [][]byte
	at := make(map[string]int, len(h.keys)) // key → its place in keys
	for i, ok := range h.ok {
		if !ok || h.skip[i] {
			continue
		}
		k := h.keys[i]
		if j, dup := at[k]; dup {
			hashes[j] = h.hashes[i] // a later row of the key wins
			continue
		}
		at[k] = len(keys)
		keys, hashes = append(keys, k), append(hashes, h.hashes[i])
	}
	if len(keys) > 0 {
		sql := storeSQL
		if created {
			sql = storeNewSQL
		}
		end.add(sql, []any{h.table, keys, hashes, run}, exec, failure("store row hashes"))
	}
}
