package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunLogsAreRedacted(t *testing.T) {
	const secret = "s3cr3t-path-token"
	p := &Pipeline{redactor: newRedactor([]string{secret})}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&buf, nil)
			if format == "json" {
				h = slog.NewJSONHandler(&buf, nil)
			}
			log := p.redactLogger(slog.New(h)).With("base", "https://x/"+secret)
			u, _ := url.Parse("https://api.example.com/v1/" + secret + "/items")
			log.Warn("request to "+secret+" failed; retrying",
				"url", u,
				"error", errors.New("GET /v1/"+secret+": 503"),
				slog.Group("req", "path", "/v1/"+secret, "n", 3),
				"attempt", 2)
			out := buf.String()
			assert.NotContains(t, out, secret)
			assert.Contains(t, out, "[redacted]")
			assert.Contains(t, out, "attempt")
		})
	}
}
