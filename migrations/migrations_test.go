package migrations

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForListsBothDialectsInOrder(t *testing.T) {
	for _, d := range []string{Postgres, SQLite} {
		t.Run(d, func(t *testing.T) {
			ms, err := For(d)
			require.NoError(t, err)
			require.NotEmpty(t, ms)
			assert.Equal(t, 1, ms[0].Version)
			assert.Contains(t, ms[0].SQL, "etl_sync_history")
			assert.Contains(t, ms[0].SQL, "etl_state")
			assert.Contains(t, ms[0].SQL, "etl_rejects")
		})
	}
}

func TestForUnknownDialect(t *testing.T) {
	_, err := For("oracle")
	assert.Error(t, err)
}
