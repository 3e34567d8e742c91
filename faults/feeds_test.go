package faults

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/mysqltest"
)

// feed is a source the campaign fills with a dataset, and the pipeline
// that reads it.
type feed struct {
	name     string // the pipeline's name
	file     string // the pipeline file
	table    string // its target table
	env      []string
	publish  func(t testing.TB, ds *dataset, changed []row)
	describe string
}

func pipelineFile(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	return p
}

// csvFeed writes the dataset to a CSV file in id order (not cursor order),
// replacing the file atomically.
func csvFeed(t testing.TB) feed {
	path := filepath.Join(t.TempDir(), "contacts.csv")
	return feed{
		name: "faults_csv", file: pipelineFile(t, "csv.hcl"), table: "faults_csv",
		env:      []string{"FAULTS_CSV=" + path},
		describe: "csv",
		publish: func(t testing.TB, ds *dataset, _ []row) {
			writeCSV(t, path, ds)
		},
	}
}

func writeCSV(t testing.TB, path string, ds *dataset) {
	t.Helper()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	require.NoError(t, err)
	w := csv.NewWriter(f)
	require.NoError(t, w.Write([]string{"id", "name", "score", "note", "updated_at"}))
	for _, id := range ds.ids() {
		r := ds.rows[id]
		require.NoError(t, w.Write([]string{strconv.FormatInt(r.ID, 10), r.Name, strconv.FormatInt(r.Score, 10), r.Note, r.Updated.Format(time.RFC3339Nano)}))
	}
	w.Flush()
	require.NoError(t, w.Error())
	require.NoError(t, f.Close())
	require.NoError(t, os.Rename(tmp, path))
}

// restFeed serves the dataset from a fake HubSpot-like API.
func restFeed(t testing.TB, token string) (feed, *api) {
	a := newAPI(t, token)
	return feed{
		name: "faults_rest", file: pipelineFile(t, "rest.hcl"), table: "faults_rest",
		env:      []string{"FAULTS_API_URL=" + a.URL(), "FAULTS_TOKEN=" + token},
		describe: "rest",
		publish:  func(_ testing.TB, ds *dataset, _ []row) { a.publish(ds) },
	}, a
}

// newYork is the MySQL pipeline's timezone: DATETIME values are its wall
// clock.
var newYork = func() *time.Location {
	l, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return l
}()

// mysqlFeed keeps the dataset in a table of a fresh MariaDB database;
// dsn is what etl reads it with (FAULTS_MYSQL_DSN).
func mysqlFeed(t testing.TB, dsn string) feed {
	mysqltest.Exec(t, dsn, `CREATE TABLE contact (
		id         BIGINT PRIMARY KEY,
		name       VARCHAR(100) NOT NULL,
		score      BIGINT NOT NULL,
		note       TEXT NOT NULL,
		updated_at DATETIME(6) NOT NULL,
		KEY by_updated (updated_at, id)
	) CHARACTER SET utf8mb4`)
	db := mysqltest.Open(t, dsn)
	return feed{
		name: "faults_mysql", file: pipelineFile(t, "mysql.hcl"), table: "faults_mysql",
		env:      []string{"FAULTS_MYSQL_DSN=" + dsn},
		describe: "mysql",
		publish: func(t testing.TB, _ *dataset, changed []row) {
			t.Helper()
			for len(changed) > 0 {
				n := min(len(changed), 1000)
				var sb strings.Builder
				args := make([]any, 0, n*5)
				sb.WriteString("INSERT INTO contact (id, name, score, note, updated_at) VALUES ")
				for i, r := range changed[:n] {
					if i > 0 {
						sb.WriteString(", ")
					}
					sb.WriteString("(?, ?, ?, ?, ?)")
					args = append(args, r.ID, r.Name, r.Score, r.Note, r.Updated.In(newYork).Format("2006-01-02 15:04:05.000000"))
				}
				sb.WriteString(" ON DUPLICATE KEY UPDATE name = VALUES(name), score = VALUES(score), note = VALUES(note), updated_at = VALUES(updated_at)")
				_, err := db.Exec(sb.String(), args...)
				require.NoError(t, err, "publish %d rows", n)
				changed = changed[n:]
			}
		},
	}
}

// envFor is the feed's environment with the warehouse at url.
func (f feed) envFor(url string) []string {
	return append(append([]string{}, f.env...), "FAULTS_WAREHOUSE_URL="+url)
}

func (f feed) String() string { return fmt.Sprintf("%s (%s)", f.name, f.describe) }
