package mysqltest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/mysqltest"
)

func TestDSNIntegration(t *testing.T) {
	var name string
	t.Run("fresh database", func(t *testing.T) {
		dsn := mysqltest.DSN(t)
		mysqltest.Exec(t, dsn, "CREATE TABLE x (id INT PRIMARY KEY); INSERT INTO x VALUES (1), (2);")
		db := mysqltest.Open(t, dsn)
		require.NoError(t, db.QueryRow("SELECT DATABASE()").Scan(&name))
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM x").Scan(&n))
		assert.Equal(t, 2, n)
		assert.Regexp(t, `^t_[0-9a-f]{12}$`, name)
	})
	// The subtest's cleanup dropped its database.
	db := mysqltest.Open(t, mysqltest.ServerConfig(t).FormatDSN())
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n))
	assert.Zero(t, n)
}
