package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURLSelectsAFreshSchemaIntegration(t *testing.T) {
	u := URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE x (id int)")
	require.NoError(t, err)
	var schema string
	require.NoError(t, conn.QueryRow(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'x' AND table_schema = current_schema()").Scan(&schema))
	assert.Equal(t, Schema(t, u), schema)
}

func TestClusterRestartsAndStopsIntegration(t *testing.T) {
	c := NewCluster(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)")
	require.NoError(t, err)

	require.NoError(t, c.Restart())
	assert.Error(t, conn.Ping(ctx), "a session from before the restart is gone")
	require.True(t, c.Ready())
	again, err := pgx.Connect(ctx, c.URL())
	require.NoError(t, err)
	var n int
	require.NoError(t, again.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n))
	assert.Equal(t, 1, n, "committed rows survive the crash")
	again.Close(ctx)

	require.NoError(t, c.Stop())
	assert.False(t, c.Ready(), "a stopped cluster refuses connections")
	require.NoError(t, c.Start())
	assert.True(t, c.Ready())
}
