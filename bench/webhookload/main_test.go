package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// TestWebhookLoadSmokeIntegration is the load test at a size CI affords:
// 300 deliveries from 4 senders, half sent twice, the server SIGKILLed once
// mid-stream and started again. Every acknowledged delivery must be in the
// warehouse exactly once. `go run ./bench/webhookload` runs it at 10,000.
func TestWebhookLoadSmokeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds etl and runs etl serve twice")
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{Deliveries: 300, Senders: 4, Duplicate: 0.5, KillAt: 0.5, PG: pgtest.ServerURL(t), Log: &out})
	require.NoError(t, err)
	t.Log(out.String())
	assert.Equal(t, 300, res.Distinct, "every delivery was acknowledged in the end")
	assert.Zero(t, res.Missing, "an acknowledged delivery is missing")
	assert.Zero(t, res.Duplicated, "an event landed twice")
	assert.False(t, res.Killed.IsZero(), "the server was killed mid-stream")
	assert.Greater(t, res.Acked, 400, "the duplicates (about half) were acknowledged too")
}
