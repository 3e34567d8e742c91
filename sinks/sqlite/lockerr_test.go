package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockErrors(t *testing.T) {
	w := openTest(t)

	t.Run("a canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		unlock, err := w.Lock(ctx, "p")
		assert.Nil(t, unlock)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorContains(t, err, "sink sqlite: lock p")
	})

	t.Run("a file where the locks directory goes", func(t *testing.T) {
		dir := w.file + ".locks"
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.WriteFile(dir, nil, 0o644))
		t.Cleanup(func() { os.Remove(dir) })
		unlock, err := w.Lock(context.Background(), "p")
		assert.Nil(t, unlock)
		assert.ErrorContains(t, err, "sink sqlite: lock p")
	})
}

func TestInspectBadURL(t *testing.T) {
	w, err := Inspect(context.Background(), "sqlite://"+filepath.ToSlash(filepath.Join(t.TempDir(), "etl.db"))+"?x=1")
	assert.Nil(t, w)
	assert.ErrorContains(t, err, "sink sqlite: open")
	assert.ErrorContains(t, err, "no query")
}
